"""Splitting a village (村/社区) in two along a line: the town administrator's tool.

The outline is cut exactly as a grid is (:func:`layers.boundaries.splitting.cut`).
The part holding more households keeps the village's code, id and everything
that hangs on them; the other part becomes a new village with the next free
village code of the town (:func:`layers.boundaries.villages.next_village_code`).

What moves to the new village, keeping ids:

* level-2 grids entirely on the new side, with their children, recoded under
  the new village's level-1 grid (:mod:`layers.boundaries.recoding`);
* households on the new side (their level-3 grid is re-pointed when it stayed
  behind), the persons of those households, and incidents in moved grids or
  lying on the new side;
* captain areas entirely on the new side (recoded to the new village's prefix);
  captain areas the line cuts are re-made for both villages by the gridding
  engine (:func:`layers.captains.gridrun.run_gridding`, incremental: areas
  not touched keep their codes and captains);
* streets and lanes with most of their length on the new side. A line crossing
  the new boundary is reported, not cut: its households and junctions would
  otherwise change under the officer.

The line is snapped to the grid edges within :data:`~layers.boundaries.editing.SNAP_M`,
since nobody draws exactly on an edge. A grid the line still cuts is refused,
naming the grid and marking the place: split that grid first. Patrol routes,
tracks, plans, gridding runs, grants and duties on the village stay with the
old village: they are its history. Everything happens in the caller's
transaction; the audit log keeps the old shapes and codes.

Modules: ``plan`` (:class:`VillageSplit`, :func:`plan_village_split`, what
moves, the preview), ``line`` (the line snapped to the grid edges, and the
grid-cut refusal), ``store`` (:func:`split_village`, everything written).
"""

from layers.boundaries.village_split.line import snap_line
from layers.boundaries.village_split.plan import (
    CROSSING_M,
    VillageSplit,
    plan_village_split,
    preview_features,
)
from layers.boundaries.village_split.store import split_village

__all__ = [
    "CROSSING_M",
    "VillageSplit",
    "plan_village_split",
    "preview_features",
    "snap_line",
    "split_village",
]
