"""Summary statistics for the clinic's outcome analytics: pure Python and scipy, no Django.

The 95 % confidence interval of a mean change uses Student's t distribution with n - 1 degrees
of freedom (mean ± t(0.975, n-1) · s / √n). Below ``min_n`` patients the interval is not shown:
a handful of patients says little, and small groups can identify a patient.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from scipy import stats as scipy_stats


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float | None
    sd: float | None
    ci_low: float | None
    ci_high: float | None
    too_few: bool


def mean_change(changes: list[float], *, min_n: int, confidence: float = 0.95) -> Summary:
    """n, mean, SD and the t-based confidence interval of ``changes``; ``too_few`` under ``min_n``."""
    n = len(changes)
    if n < max(min_n, 2):
        mean = statistics.fmean(changes) if changes and n >= min_n else None
        return Summary(n=n, mean=mean, sd=None, ci_low=None, ci_high=None, too_few=True)
    mean = statistics.fmean(changes)
    sd = statistics.stdev(changes)
    half = float(scipy_stats.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    return Summary(n=n, mean=mean, sd=sd, ci_low=mean - half, ci_high=mean + half, too_few=False)
