"""When incidents happen: monthly weights per category and the Spring Festival.

Fireworks cluster from 腊月二十三 to 元宵节, flood cases fall in June–September
(七下八上, the late-July/early-August rains), heating and gas problems in winter,
disputes around the festival and the wheat and maize harvests.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

#: Monthly weight per category, January..December (why: see the module docstring).
MONTHLY = np.array(
    [
        [0.8, 0.9, 1.1, 1.2, 1.3, 1.3, 1.4, 1.4, 1.2, 1.0, 0.9, 0.8],  # sanitation: summer smells
        [1.8, 1.4, 1.0, 0.8, 0.8, 1.0, 1.3, 1.3, 0.9, 0.9, 1.5, 1.9],  # heating, power in summer
        [0.3, 0.3, 0.2, 0.3, 0.2, 0.2, 0.2, 0.2, 0.3, 0.5, 0.3, 0.3],  # fireworks (plus festival)
        [
            1.3,
            1.3,
            0.9,
            0.9,
            1.0,
            1.3,
            0.9,
            0.9,
            1.0,
            1.3,
            1.0,
            1.1,
        ],  # disputes: harvests, festival
        [1.5, 1.3, 1.2, 1.2, 0.8, 0.8, 0.9, 0.9, 0.8, 0.9, 1.3, 1.6],  # hazards: heating season
        [1.0, 1.1, 0.9, 0.9, 1.0, 1.1, 1.2, 1.2, 1.0, 1.0, 0.9, 1.0],  # public order
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.7, 1.6, 1.4, 0.4, 0.0, 0.0, 0.0],  # flood: Jun–Sep only
        [1.1, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1],  # livelihood
    ]
)
#: Spring Festival (正月初一) dates; fireworks and family disputes peak around them.
SPRING_FESTIVAL = {
    2018: (2, 16),
    2019: (2, 5),
    2020: (1, 25),
    2021: (2, 12),
    2022: (2, 1),
    2023: (1, 22),
    2024: (2, 10),
    2025: (1, 29),
    2026: (2, 17),
    2027: (2, 6),
    2028: (1, 26),
    2029: (2, 13),
    2030: (2, 3),
    2031: (1, 23),
    2032: (2, 11),
    2033: (1, 31),
    2034: (2, 19),
    2035: (2, 8),
}


def spring_festival(year: int) -> dt.date:
    """Date of the Spring Festival (正月初一) of ``year``."""
    m, d = SPRING_FESTIVAL.get(year, (2, 5))  # outside the table: a typical date
    return dt.date(year, m, d)


def day_weights(days: np.ndarray) -> np.ndarray:
    """Relative weight of each day per category.

    Parameters
    ----------
    days : numpy.ndarray
        Day numbers (days since 1970-01-01).

    Returns
    -------
    numpy.ndarray
        Shape (8, len(days)); rows in category order "01".."08".
    """
    dates = days.astype("datetime64[D]")
    month = dates.astype("datetime64[M]").astype(np.int64) % 12
    w = MONTHLY[:, month].copy()
    years = np.unique(dates.astype("datetime64[Y]").astype(np.int64) + 1970)
    sf_days = np.array(
        [np.datetime64(spring_festival(int(y)), "D") for y in np.r_[years, years[-1] + 1]]
    ).astype(np.int64)
    # Distance in days to the nearest Spring Festival.
    delta = dates.astype(np.int64)[:, None] - sf_days[None, :]
    near = delta[np.arange(len(dates)), np.argmin(np.abs(delta), axis=1)]
    # 腊月二十三 (-7) to 元宵节 (+14): fireworks; family and debt disputes before it.
    w[2] += 12.0 * np.exp(-(((near - 1.0) / 6.0) ** 2))
    w[2] += 4.0 * np.exp(-(((near - 14.0) / 1.5) ** 2))  # 元宵节
    w[3] += 0.8 * np.exp(-(((near + 10.0) / 10.0) ** 2))
    w[0] += 0.5 * np.exp(-(((near + 12.0) / 6.0) ** 2))  # the pre-festival clean-up
    return w
