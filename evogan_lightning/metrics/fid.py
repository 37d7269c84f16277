"""The FID/KID/IS toolkit in one import. Each part lives in its own module:

- ``metrics.distances``: the maths (Frechet distance, KID, Inception Score from logits);
- ``metrics.feature_stats``: streaming feature statistics and the real-statistics cache;
- ``metrics.inception``: the Inception extractor and where its weights come from;
- ``metrics.evaluator``: the evaluator that puts them together for a module's best individual.
"""

from __future__ import annotations

from .distances import frechet_distance, inception_score_from_logits, kernel_inception_distance
from .feature_stats import FeatureStats, StatsCache
from .inception import (
    INCEPTION_WEIGHTS_ENV,
    INCEPTION_WEIGHTS_URL,
    InceptionFeatures,
    inception_available,
    inception_weights_cache_path,
    make_inception_extractor,
    make_inception_fid,
    make_inception_score,
    sha256_file,
)

__all__ = [
    "INCEPTION_WEIGHTS_ENV",
    "INCEPTION_WEIGHTS_URL",
    "FeatureStats",
    "StatsCache",
    "frechet_distance",
    "kernel_inception_distance",
    "sha256_file",
    "inception_weights_cache_path",
    "inception_available",
    "make_inception_fid",
    "make_inception_score",
    "make_inception_extractor",
    "InceptionFeatures",
    "inception_score_from_logits",
]
