"""Binned Gaussian KDE: mass, normalisation, agreement with the exact sum."""

from __future__ import annotations

import numpy as np
import pytest

from layers.hotspots.kde import kernel_density


def test_mass_is_kept_and_probability_sums_to_one():
    rng = np.random.default_rng(0)
    pts = rng.normal(0, 200, (5000, 2))
    k = kernel_density(pts[:, 0], pts[:, 1], bandwidth_m=80, cell_m=10)
    assert k.density.sum() * k.grid.cell_m**2 == pytest.approx(5000, rel=1e-6)
    assert k.probability().sum() == pytest.approx(1.0)
    coarse = kernel_density(pts[:, 0], pts[:, 1], bandwidth_m=80, cell_m=10, out_cell_m=50)
    assert coarse.density.sum() * 50**2 == pytest.approx(5000, rel=1e-6)
    assert coarse.grid.cell_m == 50


def test_weights_scale_the_mass():
    pts = np.array([[0.0, 0.0], [500.0, 0.0]])
    k = kernel_density(pts[:, 0], pts[:, 1], weights=np.array([2.0, 3.0]), bandwidth_m=50)
    assert k.density.sum() * k.grid.cell_m**2 == pytest.approx(5.0, rel=1e-6)


def test_matches_exact_gaussian_sum():
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 1000, (300, 2))
    h = 100.0
    k = kernel_density(pts[:, 0], pts[:, 1], bandwidth_m=h, cell_m=5, bounds=(0, 0, 1000, 1000))
    cx, cy = k.grid.centres()
    probe = [(40, 40), (60, 80), (100, 100)]
    for r, c in probe:
        x, y = cx[r, c], cy[r, c]
        d2 = (pts[:, 0] - x) ** 2 + (pts[:, 1] - y) ** 2
        exact = np.exp(-d2 / (2 * h * h)).sum() / (2 * np.pi * h * h)
        assert k.density[r, c] == pytest.approx(exact, rel=0.02)


def test_bad_parameters():
    with pytest.raises(ValueError, match="positive"):
        kernel_density(np.zeros(3), np.zeros(3), bandwidth_m=0)
    with pytest.raises(ValueError, match="multiple"):
        kernel_density(np.zeros(3), np.zeros(3), cell_m=10, out_cell_m=25)
