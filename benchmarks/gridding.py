"""Benchmark the gridding engine against spopt max-p, k-means-constrained and METIS.

    python benchmarks/gridding.py [--sizes 500 2000 8000 35000 200000] [--timeout 300]

Every (method, size) runs in its own subprocess with a timeout, so a slow
baseline cannot stall the run and peak memory is per run. Townships come from
the project's demo generator (``layers/demo/generate.py``); without it, from
``gridding.synthetic`` (the JSON says which). All methods are judged on the same
neighbour graph and the same polygon construction (:mod:`gridding.metrics`).
Seconds are for the method alone (ours: everything from GeoDataFrames to areas,
street areas, party groups and polygons; baselines: the partition call only).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ANCHORS = {
    "maxp": "45 s at 2,000 (98 % in bounds); 254 s at 8,000 (96 %)",
    "kmeans": "17 s at 2,000, all in bounds, PP 0.61, not contiguous; >300 s at 8,000",
    "metis": "0.035 s at 2,000, 0.19 s at 8,000, 0.93 s at 35,000; PP 0.55; "
    "barrier pairs 4–5 % unweighted; leaves an area of 14 at 500",
    "ours_target": "100 % in bounds and contiguous; PP >= 0.62; barrier pairs <= 2 %; "
    "8,000 <= 0.5 s, 35,000 <= 2 s, 200,000 <= 15 s, <= 4 GB",
}
#: Sizes above which the anchors say a baseline needs more than 300 s: not run.
SKIP_ABOVE = {"maxp": 8000, "kmeans": 2000}


def township(size: int | str):
    """Layers of the township of ``size`` households ("demo" = the demo's default)."""
    try:
        from layers.demo.generate import generate
    except ImportError:
        from gridding.synthetic import township as synth

        t = synth(8000 if size == "demo" else int(size), seed=1)
        return (
            "gridding.synthetic",
            t.households,
            t.villages,
            t.lanes,
            t.streets[~t.streets["is_main"]],
            t.barriers,
        )
    d = generate() if size == "demo" else generate(households=int(size))
    return "layers.demo.generate", d.households, d.villages, d.lanes, d.streets, d.barriers


def _graph(hh, villages, lanes, streets, barriers):
    from gridding.graph import build_graph
    from gridding.inputs import prepare

    prep = prepare(
        hh,
        max_weight=20,
        villages=villages,
        lanes=lanes,
        streets=streets,
        barriers=barriers,
        village_column="village_code",
    )
    g = build_graph(
        prep.xy,
        prep.weight,
        prep.group,
        lanes=prep.lanes,
        streets=prep.streets,
        barriers=prep.barriers,
    )
    return prep, g


def _quality(prep, g, labels) -> dict:
    from gridding.metrics import evaluate
    from gridding.polygons import area_polygons

    labels = np.unique(labels, return_inverse=True)[1].ravel()
    polys = area_polygons(g.xy, labels, g.group, prep.village_geoms)
    return evaluate(g, labels, 15, 20, polys.geoms)


def _metis(prep, g) -> np.ndarray:
    import pymetis

    from gridding.graph import component_labels

    labels = np.zeros(g.n, dtype=np.int64)
    comp = component_labels(g.n, g.u, g.v)
    offset = 0
    for c in range(int(comp.max()) + 1):
        nodes = np.flatnonzero(comp == c)
        k = max(1, round(len(nodes) / 17.5))
        if k == 1:
            labels[nodes] = offset
            offset += 1
            continue
        local = np.full(g.n, -1)
        local[nodes] = np.arange(len(nodes))
        keep = local[g.u] >= 0
        a, b = local[g.u[keep]], local[g.v[keep]]
        src, dst = np.r_[a, b], np.r_[b, a]
        order = np.argsort(src, kind="stable")
        xadj = np.searchsorted(src[order], np.arange(len(nodes) + 1))
        _, parts = pymetis.part_graph(k, xadj=xadj, adjncy=dst[order], contiguous=True)
        labels[nodes] = np.asarray(parts) + offset
        offset += k
    return labels


def _kmeans(prep, g) -> np.ndarray:
    from k_means_constrained import KMeansConstrained

    n = g.n
    k = min(max(round(n / 17.5), math.ceil(n / 20)), n // 15)
    km = KMeansConstrained(n_clusters=k, size_min=15, size_max=20, random_state=0, n_jobs=1)
    return km.fit_predict(g.xy - g.xy.mean(axis=0))


def _maxp(prep, g) -> np.ndarray:
    import warnings

    import geopandas as gpd
    import shapely
    from libpysal.weights import W
    from spopt.region import MaxPHeuristic

    neighbours: dict[int, list[int]] = {i: [] for i in range(g.n)}
    for a, b in zip(g.u.tolist(), g.v.tolist(), strict=True):
        neighbours[a].append(b)
        neighbours[b].append(a)
    gdf = gpd.GeoDataFrame(
        {"x": g.xy[:, 0], "y": g.xy[:, 1], "count": 1}, geometry=shapely.points(g.xy)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = W(neighbours, silence_warnings=True)
        model = MaxPHeuristic(gdf, w, ["x", "y"], "count", 15, top_n=2)
        model.solve()
    return np.asarray(model.labels_)


def run_one(method: str, size: str) -> dict:
    """Run one method on one township, in this process; returns its figures."""
    source, hh, villages, lanes, streets, barriers = township(size)
    n = len(hh)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if method == "ours":
        from gridding import Gridder

        t0, c0 = time.perf_counter(), time.process_time()
        m = Gridder(
            hh,
            villages=villages,
            lanes=lanes,
            streets=streets,
            barriers=barriers,
            id_column="key",
            village_column="village_code",
        ).solve()
        seconds = time.perf_counter() - t0
        s = m.summary_
        g, labels = m.graph_, m.labels_nodes_
        out = {
            # CPU seconds of this process: what the run costs when other work
            # shares the cores (wall seconds then include waiting).
            "cpu_seconds": round(time.process_time() - c0, 3),
            "share_in_bounds": s["share_in_bounds"],
            "share_contiguous": s["share_contiguous"],
            "mean_polsby_popper": s["mean_polsby_popper"],
            "barrier_share": s["barrier_share"],
            "street_share": s["street_crossing_share"],
            # Neighbours on one lane that ended up with different captains.
            "lane_split_share": round(
                float((labels[g.u] != labels[g.v])[g.same_lane].sum() / max(g.same_lane.sum(), 1)),
                4,
            ),
            "party_groups_of_one": int((m.party_groups_["lane_areas"] == 1).sum()),
            "areas": s["lane_areas"],
            "street_areas_in_bounds": s["street_share_in_bounds"],
            "infeasible_villages": s["infeasible_villages"],
            "seconds_by_step": s["seconds"],
        }
    else:
        prep, g = _graph(hh, villages, lanes, streets, barriers)
        fn = {"metis": _metis, "kmeans": _kmeans, "maxp": _maxp}[method]
        t0 = time.perf_counter()
        labels = fn(prep, g)
        seconds = time.perf_counter() - t0
        out = _quality(prep, g, labels)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "households": n,
        "source": source,
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(peak, 1),
        "rss_before_mb": round(rss_before, 1),
        **out,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", nargs="*", default=["demo", "500", "2000", "8000", "35000", "200000"])
    p.add_argument("--methods", nargs="*", default=["ours", "metis", "kmeans", "maxp"])
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--one", nargs=2, metavar=("METHOD", "SIZE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return
    results: dict[str, dict] = {}
    for size in args.sizes:
        row: dict[str, dict] = {}
        for method in args.methods:
            limit = SKIP_ABOVE.get(method)
            if limit is not None and size != "demo" and int(size) > limit:
                row[method] = {"skipped": f"anchors say over {args.timeout:.0f} s at this size"}
                continue
            if limit is not None and size == "demo" and limit < 8000:
                row[method] = {"skipped": "demo has 8,000 households; anchors say over 300 s"}
                continue
            try:
                proc = subprocess.run(
                    [sys.executable, __file__, "--one", method, size],
                    capture_output=True,
                    text=True,
                    timeout=args.timeout,
                    cwd=ROOT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                row[method] = {"timeout": f"did not finish in {args.timeout:.0f} s"}
                continue
            if proc.returncode != 0:
                row[method] = {"error": proc.stderr.strip().splitlines()[-1:]}
                continue
            row[method] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{size} {method}: {row[method].get('seconds')} s", file=sys.stderr)
        results[size] = row
    print(json.dumps({"anchors": ANCHORS, "results": results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
