"""File command line: partition households from files into a GeoPackage.

    python -m gridding partition HOUSEHOLDS --out OUT.gpkg [--lanes FILE]
        [--streets FILE] [--villages FILE] [--barriers FILE] [--min 15 --max 20]
        [--street-min 6 --street-max 8] [--id-column COL] [--weight-column COL]
        [--village-column COL] [--village-id-column COL] [--seed N]

Prints one JSON line (counts, share in bounds, contiguity, compactness, crossing
shares, seconds, infeasible villages, handled irregularities). Bad input gives a
one-line message on stderr and exit status 2, never a traceback; ``--debug``
shows the traceback of an unexpected error (exit status 3 otherwise).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from gridding.inputs import GriddingInputError
from gridding.model import Gridder, Scheme
from gridding.partition import Bounds


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gridding", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    part = sub.add_parser("partition", help="partition households into captain areas")
    part.add_argument("households", help="household points (any file pyogrio reads)")
    part.add_argument("--out", required=True, help="output GeoPackage (overwritten)")
    part.add_argument("--lanes", help="lane lines")
    part.add_argument("--streets", help="other street lines")
    part.add_argument("--villages", help="village polygons")
    part.add_argument("--barriers", help="barrier lines: main roads, rivers")
    part.add_argument("--min", type=int, default=15, help="households per lane area, minimum")
    part.add_argument("--max", type=int, default=20, help="households per lane area, maximum")
    part.add_argument("--street-min", type=int, default=6, help="lane areas per street area, min")
    part.add_argument("--street-max", type=int, default=8, help="lane areas per street area, max")
    part.add_argument("--id-column", help="household id column (default: row number)")
    part.add_argument("--weight-column", help="households per point column")
    part.add_argument("--village-column", help="household column naming its village")
    part.add_argument("--village-id-column", help="village id column (default: code)")
    part.add_argument("--seed", type=int, default=0)
    part.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def _partition(args: argparse.Namespace) -> dict:
    from gridding.files import read_layer, write_results

    t0 = time.perf_counter()
    try:
        scheme = Scheme(
            lane=Bounds(args.min, args.max), street=Bounds(args.street_min, args.street_max)
        )
    except ValueError as exc:
        raise GriddingInputError(str(exc)) from exc
    layers = {
        name: read_layer(getattr(args, name), name) if getattr(args, name) else None
        for name in ("lanes", "streets", "villages", "barriers")
    }
    households = read_layer(args.households, "households")
    model = Gridder(
        households,
        scheme=scheme,
        id_column=args.id_column,
        weight_column=args.weight_column,
        village_column=args.village_column,
        village_id_column=args.village_id_column,
        seed=args.seed,
        **layers,
    ).solve()
    write_results(model, args.out)
    s = dict(model.summary_)
    bad = model.villages_[~model.villages_["feasible"]]
    s["infeasible"] = [
        {"village": str(r.village), "households": int(r.households), "why": r.notes}
        for r in bad.itertuples()
    ]
    s["seconds"] = dict(s["seconds"], total=round(time.perf_counter() - t0, 3))
    s["out"] = str(args.out)
    return s


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        summary = _partition(args)
    except GriddingInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            file=sys.stderr,
        )
        return 3
    print(json.dumps(summary, ensure_ascii=False, default=str))
    return 0
