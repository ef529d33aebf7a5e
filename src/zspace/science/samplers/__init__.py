"""Samplers of latent points (see :mod:`zspace.science.samplers.base` for specs and storage).

Importing the package registers every sampler: the closed-form ones, the
fitted ones, the flows (zuko) and the two-stage VAE, in that order (the order of ``--help``).
A new sampler is a class with ``@register`` in a module imported here.
"""

from zspace.science.samplers.base import (
                                          SAMPLERS,
                                          Sampler,
                                          StaleSampler,
                                          load_sampler,
                                          make_sampler,
                                          register,
                                          resolve_sampler,
                                          sampler_names,
                                          samplers_dir,
                                          saved_name,
                                          saved_samplers,
)
from zspace.science.samplers.closed_form import NormalSampler, UniformSampler
from zspace.science.samplers.fitted import (
                                          DiagonalGaussianSampler,
                                          FullGaussianSampler,
                                          GaussianMixtureSampler,
                                          MarginalShuffleSampler,
                                          NeighbourInterpolationSampler,
                                          RadiusShellSampler,
)
from zspace.science.samplers.flow import FlowSampler
from zspace.science.samplers.twostage import TwoStageVAESampler

__all__ = ["SAMPLERS", "Sampler", "StaleSampler", "load_sampler", "make_sampler", "register", "resolve_sampler", "sampler_names",
           "samplers_dir", "saved_name", "saved_samplers", "NormalSampler", "UniformSampler",
           "DiagonalGaussianSampler", "FullGaussianSampler", "GaussianMixtureSampler", "MarginalShuffleSampler",
           "NeighbourInterpolationSampler", "RadiusShellSampler", "FlowSampler", "TwoStageVAESampler"]
