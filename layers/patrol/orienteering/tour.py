"""A tour of the orienteering problem: its stops in order, and its walking plus stop time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = 1e-9


@dataclass(frozen=True)
class Tour:
    """Stops in visiting order (indices 1..k of the matrix; 0 is the base)."""

    stops: tuple[int, ...]
    time_s: float
    prize: float
    #: True when the exact programme proved no tour within the budget has more prize.
    optimal: bool = False


def tour_time(dist: np.ndarray, service: np.ndarray, stops: list[int] | tuple[int, ...]) -> float:
    """Walking plus stop time of base → stops → base."""
    if not stops:
        return 0.0
    seq = [0, *stops, 0]
    return float(dist[seq[:-1], seq[1:]].sum() + service[list(stops)].sum())
