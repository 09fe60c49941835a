"""memsep.empirical: torch models, training and experiments (score networks so far)."""

from .networks import ScoreMLP, as_numpy_score, default_device

__all__ = ["ScoreMLP", "as_numpy_score", "default_device"]
