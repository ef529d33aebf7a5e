"""The pipeline: data -> model -> train -> checkpoints in a run -> encode (Z store) / generate.

* :mod:`~zspace.pipeline.config` -- :class:`TrainConfig`;
* :mod:`~zspace.pipeline.splits` -- a run's data split, from its typed config;
* :mod:`~zspace.pipeline.run` -- a run directory and its model;
* :mod:`~zspace.pipeline.checkpoint` -- safetensors + JSON checkpoints;
* :mod:`~zspace.pipeline.train` -- the loop, with its seams :mod:`~zspace.pipeline.precision`
  and :mod:`~zspace.pipeline.processes`;
* :mod:`~zspace.pipeline.session` -- a run's model loaded once for inference (:func:`open_session`),
  whose forward passes are :mod:`~zspace.pipeline.forward`;
* :mod:`~zspace.pipeline.encode`, :mod:`~zspace.pipeline.generate`, :mod:`~zspace.pipeline.zstore`.
"""
