"""The orienteering problem: most prize from optional stops within a time budget.

A patrol with a time budget leaves the base, stops at some hotspots (each with a
prize and a stop time, 10–15 minutes for a Koper stop) and returns in time.
Two solvers, the exact one first:

* **Exact dynamic programme** (Held–Karp over the subsets that fit). With
  12-minute stops a 60-minute patrol makes at most four stops, so only a few
  thousand subsets of 20 hotspots fit in the budget and the programme proves
  the optimum in milliseconds. It gives up (and hands over to the search below)
  as soon as the subsets that fit pass ``exact_states``, which is what happens
  with many short stops (50 checkpoints, 1-minute stops, 2 hours).
* **Iterated local search** over (which stops, in what order) in plain Python,
  fast and strong on the larger cases:

  - construction by best prize-per-extra-second insertion;
  - local search: 2-opt and or-opt on the order, then insertion of any stop
    that still fits, then replacement of a visited stop by a better unvisited one;
  - perturbation: drop a random part of the route and rebuild it with noisy ratios.

The search is deterministic for a seed and stops after ``max_iter`` rounds or
``time_limit_s``, whichever comes first (the time limit is a safety net: on an
idle machine 400 rounds of 50 candidates take about 0.35 s; only when it cuts
the search short does the result depend on the machine's load).

Modules: ``tour`` (the tour and its time), ``exact`` (the dynamic programme),
``search`` (the iterated local search's moves), ``solver``
(:func:`solve_orienteering`, the two solvers in turn), ``tour_sets`` (every stop
set that fits, for the week plan).
"""

from layers.patrol.orienteering.solver import solve_orienteering
from layers.patrol.orienteering.tour import Tour, tour_time
from layers.patrol.orienteering.tour_sets import TourSet, enumerate_tours

__all__ = ["Tour", "TourSet", "enumerate_tours", "solve_orienteering", "tour_time"]
