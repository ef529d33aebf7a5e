"""The live explorer (``zspace explore``): a local web page that decodes any point of the latent space.

:mod:`~zspace.explore.space` turns views and clicks into points z (compute
only); :mod:`~zspace.explore.runs` holds each served run (its model loaded
once); :mod:`~zspace.explore.app` is the HTTP API and page;
:mod:`~zspace.explore.server` starts uvicorn. Needs the ``explore`` extra.
"""
