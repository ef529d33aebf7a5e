"""Sample quality without downloaded weights.

* :mod:`~zspace.science.quality.features` — a small conv net zspace trains on the data
  set itself; its penultimate layer is the feature space.
* :mod:`~zspace.science.quality.frechet` — Frechet distance between two feature clouds.
* :mod:`~zspace.science.quality.precision_recall` — k-NN precision, recall and realism
  (Kynkaanniemi et al. 2019).
* :mod:`~zspace.science.quality.score` — a sampler of a run against held-out images,
  beside the reconstruction floor and the shuffled-pixel ceiling.
* :mod:`~zspace.science.quality.standard` — the field's standard scores (FID, KID, precision/recall,
  density/coverage) in torch-fidelity's Inception-v3 features, from a local weights file.
"""
