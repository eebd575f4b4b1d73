"""Prompt experiments: plan the grid and price it, pace requests under the rate limit, run
them, and show progress."""

from ._plan import CostEstimate
from ._run import estimate_experiment, estimate_experiment_async, experiment, experiment_async

__all__ = [
    "CostEstimate",
    "estimate_experiment",
    "estimate_experiment_async",
    "experiment",
    "experiment_async",
]
