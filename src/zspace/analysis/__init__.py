"""Latent-space analyses (SPEC section 4): arrays in, result dataclasses out.

One function per analysis; each takes numpy arrays and a config dataclass
(defaults from SPEC) and returns a result whose ``to_json()`` is its part of
analysis.json. :func:`run_battery` runs a selection and writes the files;
:func:`load_latents` reads and checks an input file.
"""

from zspace.analysis.axes import AxisDensityConfig, AxisDensityResult, axis_density
from zspace.analysis.battery import ANALYSES, BatteryConfig, run_battery
from zspace.analysis.clustering import InertiaConfig, InertiaResult, inertia_curve, kneedle_elbow
from zspace.analysis.factors import DirectionScores, FactorConfig, FactorResult, factor_analysis
from zspace.analysis.inputs import LatentInput, from_arrays, load_latents
from zspace.analysis.pca import PcaConfig, PcaResult, fit_pca, pca_analysis, project
from zspace.analysis.planes import PlanesConfig, PlanesResult, plane_views
from zspace.analysis.radius import RadiusConfig, RadiusResult, radii, radius_density
from zspace.analysis.scatter2d import Scatter2dConfig, Scatter2dResult, scatter_2d
from zspace.analysis.tsne import TsneConfig, TsneResult, TsneVariant, knn_preservation, tsne_maps
from zspace.analysis.vae_stats import VaeStatsConfig, VaeStatsResult, vae_statistics

__all__ = [
    "ANALYSES", "AxisDensityConfig", "AxisDensityResult", "BatteryConfig", "DirectionScores", "FactorConfig",
    "FactorResult", "InertiaConfig", "InertiaResult", "LatentInput", "PcaConfig", "PcaResult", "PlanesConfig",
    "PlanesResult", "RadiusConfig", "RadiusResult", "Scatter2dConfig", "Scatter2dResult", "TsneConfig", "TsneResult",
    "TsneVariant", "VaeStatsConfig", "VaeStatsResult", "axis_density", "factor_analysis", "fit_pca", "from_arrays",
    "inertia_curve", "kneedle_elbow", "knn_preservation", "load_latents", "pca_analysis", "plane_views", "project",
    "radii", "radius_density", "run_battery", "scatter_2d", "tsne_maps", "vae_statistics",
]
