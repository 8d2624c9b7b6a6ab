"""Who reports an incident, who acts on each step, and the notes they leave."""

from __future__ import annotations

import numpy as np

from layers.demo.incidents.loop import _S
from layers.demo.texts import NOTES

#: Who acts on entering a status: (roles, probabilities).
_ACTORS = {
    "accepted": (("grid_worker", "village_cadre", "town_admin"), (0.7, 0.2, 0.1)),
    "rejected": (("village_cadre", "town_admin", "grid_worker"), (0.5, 0.3, 0.2)),
    "dispatched": (("village_cadre", "town_admin"), (0.55, 0.45)),
    "in_progress": (("grid_worker", "village_cadre", "lane_captain"), (0.5, 0.3, 0.2)),
    "rework": (("town_admin", "village_cadre"), (0.6, 0.4)),
    "verified": (("village_cadre", "town_admin"), (0.5, 0.5)),
    "closed": (("town_admin", "village_cadre"), (0.7, 0.3)),
    "parked": (("town_admin", "village_cadre"), (0.7, 0.3)),
}
_POLICE_WORK = (("community_police", "village_cadre", "grid_worker"), (0.5, 0.3, 0.2))
_REPORTERS = (
    ("resident", "lane_captain", "grid_worker", "community_police", "village_cadre"),
    (0.45, 0.2, 0.25, 0.05, 0.05),
)


def _roles(rng: np.random.Generator, st: np.ndarray, cat: np.ndarray) -> np.ndarray:
    """Who acts on entering each status (flat planned steps, in path order)."""
    role = np.full(len(st), "resident", dtype=object)
    for name, (roles, p) in _ACTORS.items():
        sel = np.flatnonzero(st == _S[name])
        role[sel] = np.asarray(roles, dtype=object)[rng.choice(len(roles), size=len(sel), p=p)]
    work = np.flatnonzero(
        ((st == _S["in_progress"]) | (st == _S["handled"])) & ((cat == 3) | (cat == 5))
    )
    role[work] = np.asarray(_POLICE_WORK[0], dtype=object)[
        rng.choice(3, size=len(work), p=_POLICE_WORK[1])
    ]
    sel = np.flatnonzero(st == _S["handled"])
    role[sel] = role[sel - 1]  # who handles is who was working on it
    return role


def _notes(rng: np.random.Generator, st: np.ndarray) -> np.ndarray:
    """Notes on rejections, rework, parking and some handlings."""
    note = np.full(len(st), None, dtype=object)
    for name, texts in NOTES.items():
        sel = np.flatnonzero(st == _S[name])
        if name == "handled":
            sel = sel[rng.random(len(sel)) < 0.4]
        note[sel] = np.asarray(texts, dtype=object)[rng.integers(0, len(texts), len(sel))]
    return note
