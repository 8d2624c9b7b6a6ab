"""The gridding engine: households in, captain areas out (pure: no Flask, no database).

Estimator style, after spopt: configure a :class:`Gridder`, call ``solve()``,
read the attributes ending in ``_``. See :mod:`gridding.model`.
"""

from gridding.inputs import GriddingInputError
from gridding.model import BAOPIAN_LIANHU, Gridder, Scheme
from gridding.partition import Bounds

__all__ = ["BAOPIAN_LIANHU", "Bounds", "Gridder", "GriddingInputError", "Scheme"]
