"""A week of twice-daily patrols: varied routes and times, each hotspot its share of visits.

A patrol that walks the same route at the same time every day is easy to
avoid. The plan follows the Stackelberg security-game line (ARMOR, PROTECT),
with whole routes as the pure strategies.

**What is asked, read exactly** (issue 7; :meth:`WeekPlan.metrics` measures it):

* *Day-to-day overlap ≤ 0.5*: the Jaccard similarity of the stop sets of two
  patrols (the hotspots stopped at; the route between them follows from the
  stops), averaged over every pair of patrols on different days — the research
  note's "mean pairwise Jaccard between days", with two patrols a day. The
  mean over all pairs (same day included), over consecutive days and over the
  walked lanes are reported beside it.
* *≥ 95 % of the deterministic plan's prize*: the deterministic plan walks the
  best route every time, so the mean prize per patrol must be at least 95 % of
  the best route's.
* *Visit frequency within ±10 % of its target*: the target frequency is the
  security-game coverage c_t of each hotspot (below); a week has whole visits,
  so the target is 14·c_t rounded down or up (whichever lets the week be
  planned; closer first), T_t, and the visits v_t must satisfy
  |v_t − T_t| ≤ 10 % of T_t — exactly T_t below ten visits, and no visit at
  a hotspot whose target is 0.

**How.**

1. **Every feasible route.** With 10–15-minute stops a patrol makes a few
   stops, so the feasible stop sets are few (≈100 for 60 minutes, ≈10,000 for
   2 hours among 20 hotspots): :func:`~layers.patrol.orienteering.enumerate_tours`
   lists them all with their shortest tours. Only when there are too many
   (many short stops) is a pool built instead: the best route and a few noisy
   re-solves of the orienteering search, grown by local moves on their stop
   order (remove a stop, insert one at its cheapest place, swap one for
   another) into a few thousand stop sets, each within the budget by the
   order it was built with. Once the targets are known (step 2), column
   generation prices in the routes the pool lacks: the duals of the
   selection's linear relaxation (in Dinkelbach form at ratio
   ``max_overlap``) are the prizes of an orienteering problem, whose tours
   join the pool. No proof is drawn from such a pool.
2. **Targets** (unless given): the security-game coverage over all feasible
   routes — the mixed strategy minimising the largest uncovered risk
   max_t p_t·(1 − c_t) with the mean prize kept (a linear programme); among
   its optima, the one with the least Σ c_t² (spread visits lower the overlap).
3. **Selection**, an integer programme (HiGHS) over the routes (from a pool:
   those the relaxation uses, the priced ones and the best through each
   hotspot): 14 routes, the prize floor and every hotspot's visits within
   tolerance are hard; it minimises the pairs of patrols sharing a stop
   (Σ v_t(v_t − 1), exact in whole visits) and repeated routes, which is
   what the overlap is made of.
4. **Overlap search**: moves that keep the prize floor and the visit ranges —
   replace one patrol's route, or recombine two patrols' stops into two other
   feasible routes (same visits, same prize) — lower the exact mean overlap.
5. **Bound.** With all routes listed, a linear relaxation bounds Σ v_t(v_t − 1)
   from below; as J = I/(|A| + |B| − I) ≥ I/(2K − I) is convex in the shared
   stops I (K: most stops of a route), Jensen's inequality turns it into a
   lower bound on the mean overlap. When that bound, or the infeasibility of
   the integer programme, shows the requirements cannot all be met, the
   shortfall says so ("proved"); otherwise a shortfall is the solver's.
6. **Order and times.** Routes are paired into days so that patrols on
   different days share few stops (a day's two patrols never have the same
   stops), neighbouring days differ, a route used twice is walked the other
   way round the second time, and start times are stratified over the days
   within each window.
7. **Stops moved between routes**, once the days are known (before the start
   times are drawn): one patrol's stop moves to another's route, or two
   patrols trade a stop, when the pairs on different days overlap less and
   both routes still fit the budget (and keep the least useful prize).
   Visits and the week's prize stay as they are, and the routes need not be
   listed or pooled.

Modules: ``plan`` (the plan and its metrics), ``planner`` (:func:`week_plan`,
the assembly), ``routes`` (listed or sampled routes as tours), ``columns``
(routes priced in by column generation), ``targets`` (security-game
coverage, whole visits), ``selection`` (the integer programme), ``search``
(the overlap search), ``bounds`` (lower bounds on the overlap),
``schedule`` (days and start times), ``exchange`` (stops moved between
routes), ``shortfalls`` (the notes).
"""

from layers.patrol.weekplan.plan import PlannedPatrol, WeekPlan
from layers.patrol.weekplan.planner import DEFAULT_WINDOWS, MILP_ROUTES, week_plan
from layers.patrol.weekplan.targets import largest_remainder, water_filling

__all__ = [
    "DEFAULT_WINDOWS",
    "MILP_ROUTES",
    "PlannedPatrol",
    "WeekPlan",
    "largest_remainder",
    "water_filling",
    "week_plan",
]
