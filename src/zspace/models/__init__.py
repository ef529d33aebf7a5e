"""Models: one conv stack builder, AE and VAE heads in a registry, and a layer summary."""

from zspace.models.autoencoder import Autoencoder, Encoding, VariationalAutoencoder, build_model
from zspace.models.config import ModelConfig, parse_int_list, parse_shape
from zspace.models.registry import MODELS, model_kinds, register_model
from zspace.models.summary import ModelSummary, forward_flops, summarize

__all__ = ["MODELS", "Autoencoder", "Encoding", "VariationalAutoencoder", "build_model", "ModelConfig",
           "model_kinds", "parse_int_list", "parse_shape", "register_model", "ModelSummary", "forward_flops", "summarize"]
