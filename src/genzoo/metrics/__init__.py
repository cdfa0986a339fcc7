"""Sample-quality and memorisation metrics, computed on features of uint8 images.

A metric never imports a model family: it takes arrays (features or pixels), and
:mod:`genzoo.metrics.evaluate` gets images from any model through the contract
(``model.sample``).

>>> from genzoo.metrics import InceptionFeatures, fid, kid, prdc
>>> net = InceptionFeatures()                       # TF-Inception pool3, offline
>>> f_fake = net.features(samples)                  # uint8 (N, C, H, W) -> (N, 2048)
>>> f_real = net.features(test_images)
>>> fid(f_fake, f_real), kid(f_fake, f_real).mean, prdc(f_real, f_fake)
"""

from genzoo.metrics.domain import DomainFeatures
from genzoo.metrics.features import (
    FeatureNetworkNotFoundError,
    InceptionFeatures,
    PixelFeatures,
    ReferenceFeatures,
    inception_path,
    reference_features,
)
from genzoo.metrics.fid import GaussianStats, fid, frechet_distance, gaussian_stats
from genzoo.metrics.inception_score import ISResult, inception_score
from genzoo.metrics.kid import KIDResult, kid
from genzoo.metrics.nearest import (
    Neighbours,
    memorisation,
    nearest_grid,
    nearest_neighbours,
    pixel_vectors,
    save_nearest_grid,
)
from genzoo.metrics.parzen import ParzenResult, parzen_estimate, parzen_log_density
from genzoo.metrics.prdc import density_coverage, prdc, precision_recall

__all__ = [
    "DomainFeatures",
    "FeatureNetworkNotFoundError",
    "GaussianStats",
    "ISResult",
    "InceptionFeatures",
    "KIDResult",
    "Neighbours",
    "ParzenResult",
    "PixelFeatures",
    "ReferenceFeatures",
    "density_coverage",
    "fid",
    "frechet_distance",
    "gaussian_stats",
    "inception_path",
    "inception_score",
    "kid",
    "memorisation",
    "nearest_grid",
    "nearest_neighbours",
    "parzen_estimate",
    "parzen_log_density",
    "pixel_vectors",
    "prdc",
    "precision_recall",
    "reference_features",
    "save_nearest_grid",
]
