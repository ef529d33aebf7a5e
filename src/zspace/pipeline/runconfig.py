"""The configuration of a training run as one file: ``zspace train --config FILE``.

A config file has the sections of a run's own ``config.json`` (so every run's
``config.json`` is a valid config file):

``model``   :class:`~zspace.models.ModelConfig` fields (``input_shape`` is taken from the data)
``train``   :class:`~zspace.pipeline.config.TrainConfig` fields
``data``    ``spec`` (the same as ``train.data``); the other keys a run records
            there (``image_shape``, ``n_train``, ``factor_names``, ``class_names``)
            describe data already read and are accepted and not used
``format``  the run-directory format a ``config.json`` was written with

Precedence: each field's default < the file < the options given on the command
line. Unknown sections and keys, and values of the wrong type, are one-line
errors naming the file, the section, the key and the accepted ones.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from zspace.core.configfile import read_config_file
from zspace.core.errors import ZspaceError, require
from zspace.models import ModelConfig
from zspace.pipeline.config import TrainConfig
from zspace.pipeline.run import RUN_CONFIG_KEYS, RUN_FORMAT

#: keys of the ``data`` section: the spec, then what a run records about the data it read
DATA_KEYS = ("spec", "image_shape", "n_train", "factor_names", "class_names")


@dataclasses.dataclass
class RunConfig:
    """The two configurations a training run is made from."""

    train: TrainConfig
    model: ModelConfig

    def to_dict(self) -> dict[str, Any]:
        """The sections of a config file (a valid ``--config``); ``input_shape`` is left out: the data sets it."""
        model = self.model.to_dict()
        model.pop("input_shape")
        return {"model": model, "train": self.train.to_dict()}


def read_run_config(path: str | Path) -> dict[str, dict[str, Any]]:
    """The ``model`` and ``train`` options of the config file at ``path`` (checked names, not yet built)."""
    sections = read_config_file(path)
    where = str(path)
    unknown = sorted(set(sections) - set(RUN_CONFIG_KEYS))
    require(not unknown, f"config file {where}: unknown section(s) {', '.join(map(repr, unknown))}; "
                         f"accepted: {', '.join(RUN_CONFIG_KEYS)}")
    version = sections.get("format", RUN_FORMAT)
    require(isinstance(version, int) and not isinstance(version, bool) and 1 <= version <= RUN_FORMAT,
            f"config file {where}: 'format' {version!r} is not a run format this zspace reads "
            f"(1 to {RUN_FORMAT}); remove the key or upgrade zspace")
    options = {}
    for name in ("model", "train", "data"):
        section = sections.get(name, {})
        require(isinstance(section, dict), f"config file {where}: section {name!r} must be a mapping of options, "
                                           f"not {type(section).__name__}")
        options[name] = dict(section)
    unknown = sorted(set(options["data"]) - set(DATA_KEYS))
    require(not unknown, f"config file {where} [data]: unknown key(s) {', '.join(map(repr, unknown))}; "
                         f"accepted: {', '.join(DATA_KEYS)}")
    spec = options["data"].get("spec")
    if spec is not None:
        require(isinstance(spec, str), f"config file {where} [data]: key 'spec' must be a string, not {spec!r}")
        other = options["train"].setdefault("data", spec)
        require(other == spec, f"config file {where}: [data] spec {spec!r} and [train] data {other!r} differ; "
                               f"keep one of them")
    return {"model": options["model"], "train": options["train"]}


def effective_run_config(file: str | Path | None, model_options: dict[str, Any],
                         train_options: dict[str, Any]) -> RunConfig:
    """Defaults < the config ``file`` (when given) < the options given on the command line.

    ``model_options`` and ``train_options`` hold only the options the user gave
    (their names are field names). The file is checked on its own first, so an
    error names the file and section of a bad key or value, or the option.
    """
    sections = read_run_config(file) if file is not None else {"model": {}, "train": {}}
    for cls, name in ((ModelConfig, "model"), (TrainConfig, "train")) if file is not None else ():
        where = f"config file {file} [{name}]"
        try:
            cls.from_dict(sections[name], where=where)
        except ZspaceError as exc:
            message = str(exc)
            raise ZspaceError(message if message.startswith(where) else f"{where}: {message}") from None
    return RunConfig(train=TrainConfig.from_dict({**sections["train"], **train_options}),
                     model=ModelConfig.from_dict({**sections["model"], **model_options}))


__all__ = ["DATA_KEYS", "RunConfig", "effective_run_config", "read_run_config"]
