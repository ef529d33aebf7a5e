"""Models: one conv stack builder, AE and VAE heads, and a layer summary."""

from zspace.models.autoencoder import MODELS, Autoencoder, Encoding, VariationalAutoencoder, build_model
from zspace.models.config import ModelConfig, parse_int_list, parse_shape
from zspace.models.summary import ModelSummary, summarize

__all__ = ["MODELS", "Autoencoder", "Encoding", "VariationalAutoencoder", "build_model", "ModelConfig",
           "parse_int_list", "parse_shape", "ModelSummary", "summarize"]
