"""Exports: a run's or a Z file's latent points written for another program to open.

Layer 3, beside ``science`` (docs/architecture.md): it reads runs, Z files and
arrays through ``pipeline`` and ``analysis.inputs`` and writes files that
other tools read; it decides nothing about the open question.

* :mod:`zspace.exports.projector`: which rows, their codes, metadata and
  sprite images, for TensorBoard's Embedding Projector (``zspace projector``);
* :mod:`zspace.exports.projector_layout`: the Projector's files
  (``tensors.tsv``, ``metadata.tsv``, ``sprite.png``, ``projector_config.pbtxt``).

TensorBoard's event files written during training stay with the trainer
(:mod:`zspace.pipeline.tensorboard`).
"""
