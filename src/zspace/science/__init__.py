"""The open question of SPEC section 5: why do random z-points decode badly?

* :mod:`~zspace.science.samplers` -- where to draw latent points from (registry, fit/sample/save);
* :mod:`~zspace.science.latents` -- a run's encoded training points, cached, and samplers fitted to them;
* :mod:`~zspace.science.quality` -- sample quality against held-out images (FD, k-NN precision/recall);
* :mod:`~zspace.science.voids` -- how far sampled points land from the encoded cloud; path profiles;
* :mod:`~zspace.science.intrinsic_dim` -- TwoNN and MLE intrinsic dimension;
* :mod:`~zspace.science.question` -- all of it per run, with a generated reading.
"""
