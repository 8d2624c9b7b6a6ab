"""Vectorised tests shared by the hotspot analyses: BH false discovery rate, Mann–Kendall."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr


def two_sided_p(z: np.ndarray) -> np.ndarray:
    """Two-sided p-value of standard normal scores."""
    return 2.0 * ndtr(-np.abs(np.asarray(z, dtype=float)))


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values) of independent or PRDS tests.

    A test is significant at false discovery rate ``alpha`` when its q ≤ alpha.
    NaN p-values (cells outside the study area) stay NaN and do not count as tests.

    Parameters
    ----------
    p : ndarray
        p-values, any shape.

    Returns
    -------
    ndarray
        q-values, same shape as ``p``.
    """
    p = np.asarray(p, dtype=float)
    flat = p.ravel()
    ok = np.flatnonzero(~np.isnan(flat))
    q = np.full(flat.shape, np.nan)
    m = len(ok)
    if m == 0:
        return q.reshape(p.shape)
    order = np.argsort(flat[ok], kind="stable")
    ranked = flat[ok][order] * m / np.arange(1, m + 1)
    # The step-up rule: q_(i) = min over j >= i of p_(j)·m/j.
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    q[ok[order]] = np.minimum(ranked, 1.0)
    return q.reshape(p.shape)


@dataclass(frozen=True)
class MannKendall:
    """Mann–Kendall trend test per series: S, its z-score (continuity-corrected), p, Kendall τ."""

    s: np.ndarray
    z: np.ndarray
    p: np.ndarray
    tau: np.ndarray


def mann_kendall(series: np.ndarray) -> MannKendall:
    """Mann–Kendall trend test on each row of ``series``, with the tie correction.

    Parameters
    ----------
    series : ndarray, shape ``(m, T)``
        One time series per row, oldest first.

    Returns
    -------
    MannKendall
        Arrays of length ``m``. A constant series has z = 0, p = 1.
    """
    x = np.asarray(series, dtype=float)
    if x.ndim != 2:
        raise ValueError("series must be 2-D (series × time)")
    m, t = x.shape
    s = np.zeros(m)
    # O(T²) pairs, vectorised over series: T is small (time steps), m is large.
    for k in range(1, t):
        s += np.sign(x[:, k:] - x[:, :-k]).sum(axis=1)
    # Tie correction: sum over tie groups of g(g−1)(2g+5).
    xs = np.sort(x, axis=1)
    new_group = np.ones((m, t), dtype=bool)
    new_group[:, 1:] = xs[:, 1:] != xs[:, :-1]
    group_id = np.cumsum(new_group, axis=1) - 1
    rows = np.repeat(np.arange(m), t)
    sizes = np.zeros((m, t))
    np.add.at(sizes, (rows, group_id.ravel()), 1.0)
    ties = (sizes * (sizes - 1) * (2 * sizes + 5)).sum(axis=1)
    var = (t * (t - 1) * (2 * t + 5) - ties) / 18.0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(var > 0, (s - np.sign(s)) / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    n_pairs = t * (t - 1) / 2.0
    tau = s / n_pairs if n_pairs else np.zeros(m)
    return MannKendall(s=s, z=z, p=two_sided_p(z), tau=tau)
