"""The model registry: kind name -> model class, filled by :func:`register_model`.

A new model kind is a subclass of :class:`~zspace.models.autoencoder.Autoencoder`
(override its heads) decorated with ``@register_model("name")``, in a module
that :mod:`zspace.models` imports; ``ModelConfig(kind="name")``, ``zspace train
--model name`` and ``zspace summary`` then accept it.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from torch import nn

from zspace.core.registry import Registry

M = TypeVar("M", bound=type[nn.Module])

#: model kind -> class
MODELS: Registry[type[nn.Module]] = Registry("model kind")


def register_model(kind: str) -> Callable[[M], M]:
    """Class decorator: make ``kind`` build this class (a kind registered twice is an error)."""
    return MODELS.register(kind)


def model_kinds() -> list[str]:
    """Every registered kind, in registration order."""
    return MODELS.names()


__all__ = ["MODELS", "register_model", "model_kinds"]
