"""Benchmark the household vector tiles: the web app next to the same query in SQL.

    python benchmarks/tiles.py [--households 1000000] [--requests 1500] [--threads 8]
                               [--client c|python] [--seconds 8] [--server granian|gunicorn]
                               [--fresh] [--no-browser]

The demo town is loaded into its own database (``wangge_bench_tiles`` in the
embedded cluster) and its households are copied side by side, shifted, until
there are ``--households`` of them: a county of 1M households over about
100 × 70 km. Tiles are chosen where the households are (random households'
tiles at z14, z15 and z16), the same list for both sides.

* ``flask``: ``/tiles/households/{z}/{x}/{y}.pbf`` through the app server (granian,
  2 workers × 4 threads, as ``make serve``), signed in as the town administrator,
  from ``--threads`` keep-alive connections on the same machine.
* ``sql``: the same ``ST_AsMVT`` query (``tile_households``, migration 0006, which
  layers/tiles.py calls) as the app's role with the same scope, one transaction
  per tile, from the same number of connections: the floor for any web stack.

Clients: with ``--client c`` (the default when installed; ``make bench`` installs
them) both sides are driven by C load generators for ``--seconds`` each, ``wrk``
for HTTP and ``pgbench`` for SQL (it reads the tile list from a table
``bench_tile``, a primary-key lookup), so that neither side pays for a Python
client. ``--client python`` fetches each tile of the list once from Python
threads (http.client / psycopg2), as the first version of this benchmark did.

``ratio`` is sql tiles/s over flask tiles/s (the web stack's overhead; target
≤ 1.3). With the browser, the time from navigation until the township map has
drawn its village outlines (``first_draw_s``, target < 2 s) and until
household points are on screen at z16 are measured in headless Chromium.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from benchmarks.server import start  # noqa: E402
from layers import migrate  # noqa: E402
from layers.db import make_engine  # noqa: E402
from webgis.pgcluster import APP_ROLE, Cluster  # noqa: E402
from webgis.settings import var_dir  # noqa: E402

DB = "wangge_bench_tiles"
ZOOMS = (14, 15, 16)
TARGETS = {"z15_tiles_per_s": 500, "ratio_max": 1.3, "first_draw_s": 2.0}

#: What layers/tiles.py runs for the town administrator (migration 0006's function).
RAW_SQL = "SELECT tile_households(%(z)s, %(x)s, %(y)s, true, '{}', '{}', '{}')"


def prepare(households: int, fresh: bool) -> tuple[str, str]:
    """The bench database with ``households`` households; owner and app-role URLs."""
    cluster = Cluster(var_dir() / "pg")
    cluster.ensure_running()
    url = cluster.ensure_database(DB, fresh=fresh)
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        have = s.scalar(text("SELECT count(*) FROM household"))
        if have == 0:
            from layers.demo.load import load_demo

            load_demo(s, as_of=date(2026, 11, 1))
            s.commit()
            have = s.scalar(text("SELECT count(*) FROM household"))
        if have < households:
            base = s.scalar(text("SELECT max(id) FROM household"))
            copies = math.ceil(households / have) - 1
            # Copies of the town side by side: 12 across, 0.09° × 0.06° apart.
            s.execute(
                text(
                    "INSERT INTO household (village_id, address, people, geom)"
                    " SELECT h.village_id, h.address, h.people,"
                    " ST_Translate(h.geom, (c % 12) * 0.09, (c / 12) * 0.06)"
                    " FROM generate_series(1, :copies) c, household h WHERE h.id <= :base"
                    " ORDER BY c, h.id LIMIT :n"
                ),
                {"copies": copies, "base": base, "n": households - have},
            )
            s.commit()
    engine.dispose()
    conn = psycopg2.connect(url)
    conn.autocommit = True
    conn.cursor().execute("VACUUM ANALYZE household")
    conn.close()
    return url, cluster.url(DB, APP_ROLE)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    lat_r = math.radians(lat)
    y = int((1.0 - math.asinh(math.tan(lat_r)) / math.pi) / 2.0 * n)
    return z, x, y


def sample_tiles(url: str, z: int, count: int, seed: int) -> list[tuple[int, int, int]]:
    conn = psycopg2.connect(url)
    cur = conn.cursor()
    cur.execute("SELECT setseed(%s)", (seed / 1e9,))
    cur.execute(
        "SELECT ST_X(geom), ST_Y(geom) FROM household TABLESAMPLE BERNOULLI (2) LIMIT %s",
        (count * 4,),
    )
    points = cur.fetchall()
    conn.close()
    rng = random.Random(seed)
    return [tile_of(*rng.choice(points), z) for _ in range(count)]


def run(tiles, threads: int, fetch) -> dict:
    """Fetch ``tiles`` from ``threads`` workers (each with its own connection)."""
    queue = list(tiles)
    lock = threading.Lock()
    latencies: list[float] = []
    sizes: list[int] = []

    def worker():
        state = {}
        while True:
            with lock:
                if not queue:
                    break
                z, x, y = queue.pop()
            t0 = time.perf_counter()
            size = fetch(state, z, x, y)
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)
                sizes.append(size)
        if "close" in state:
            state["close"]()

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "tiles": len(latencies),
        "tiles_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 2),
        "mean_kib": round(statistics.mean(sizes) / 1024, 2),
    }


def sql_fetcher(app_url: str):
    def fetch(state, z, x, y):
        if "conn" not in state:
            conn = psycopg2.connect(app_url, options="-c max_parallel_workers_per_gather=0")
            state["conn"], state["close"] = conn, conn.close
        conn = state["conn"]
        with conn, conn.cursor() as cur:  # one transaction per tile, as a request has
            cur.execute("SELECT set_config('wangge.household_all', 'on', true)")
            cur.execute(RAW_SQL, {"z": z, "x": x, "y": y})
            data = cur.fetchone()[0]
        return len(data) if data else 0

    return fetch


#: wrk: each connection walks the tile list from its own starting point.
WRK_SCRIPT = """
local paths, i = {}, 0
init = function(args)
  for line in io.lines(os.getenv("TILE_LIST")) do paths[#paths + 1] = line end
  i = math.random(#paths)
end
wrk.headers["Cookie"] = os.getenv("TILE_COOKIE")
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "bytes": %d, "non2xx": %d, "errors": %d,'
    .. ' "p50_us": %d, "p95_us": %d}\\n',
    summary.requests, summary.duration / 1e6, summary.bytes, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95)))
end
"""

#: pgbench: what a request does in the app (scope, tile), one transaction per tile.
PGBENCH_SCRIPT = """\\set i random(1, {count})
BEGIN;
SELECT set_config('wangge.household_all', 'on', true);
SELECT tile_households({z}, x, y, true, '{{}}', '{{}}', '{{}}') FROM bench_tile
 WHERE zoom = {z} AND i = :i;
END;
"""


def c_clients() -> bool:
    """Whether wrk and pgbench are installed (``make bench`` installs them)."""
    return bool(shutil.which("wrk") and shutil.which("pgbench"))


def wrk_run(port: int, cookie: str, tiles, seconds: float, connections: int) -> dict:
    """Household tiles through the app for ``seconds`` from wrk's ``connections``."""
    with tempfile.TemporaryDirectory() as tmp:
        script, paths = Path(tmp, "tiles.lua"), Path(tmp, "paths.txt")
        script.write_text(WRK_SCRIPT)
        paths.write_text("".join(f"/tiles/households/{z}/{x}/{y}.pbf\n" for z, x, y in tiles))
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{round(seconds)}s", "-s", str(script),
             f"http://127.0.0.1:{port}"],
            env=os.environ | {"TILE_LIST": str(paths), "TILE_COOKIE": f"wangge_session={cookie}"},
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    r = json.loads(out.strip().splitlines()[-1])
    if r["non2xx"] or r["errors"]:
        raise RuntimeError(f"wrk: {r['non2xx']} non-2xx answers, {r['errors']} errors")
    return {
        "tiles": r["requests"],
        "tiles_per_s": round(r["requests"] / r["seconds"], 1),
        "p50_ms": round(r["p50_us"] / 1000, 2),
        "p95_ms": round(r["p95_us"] / 1000, 2),
        "mean_kib": round(r["bytes"] / r["requests"] / 1024, 2),
    }


def pgbench_run(owner_url: str, app_url: str, z: int, tiles, seconds: float, clients: int) -> dict:
    """The same tiles in SQL for ``seconds`` from pgbench's ``clients``."""
    conn = psycopg2.connect(owner_url)
    with conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS bench_tile (zoom int, i int, x int, y int,"
            " PRIMARY KEY (zoom, i))"
        )
        cur.execute("DELETE FROM bench_tile WHERE zoom = %s", (z,))
        cur.executemany(
            "INSERT INTO bench_tile VALUES (%s, %s, %s, %s)",
            [(z, i, x, y) for i, (_, x, y) in enumerate(tiles, 1)],
        )
        cur.execute(f"GRANT SELECT ON bench_tile TO {APP_ROLE}")
    conn.close()
    url = app_url + ("&" if "?" in app_url else "?")
    url += "options=-c%20max_parallel_workers_per_gather%3D0"
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp, "tile.sql")
        script.write_text(PGBENCH_SCRIPT.format(count=len(tiles), z=z))
        subprocess.run(
            ["pgbench", "-n", "-M", "simple", "-c", str(clients), "-j", "2", "-T",
             str(round(seconds)), "-f", str(script), "-l", "--log-prefix", f"{tmp}/log", url],
            capture_output=True, text=True, check=True, cwd=tmp,
        )  # fmt: skip
        # Per-transaction log lines: client, transaction, latency (µs), script, epoch s, µs.
        rows = [line.split() for f in Path(tmp).glob("log*") for line in f.read_text().splitlines()]
    latencies = sorted(int(r[2]) for r in rows)
    starts = [int(r[4]) + int(r[5]) / 1e6 - int(r[2]) / 1e6 for r in rows]
    ends = [int(r[4]) + int(r[5]) / 1e6 for r in rows]
    return {
        "tiles": len(rows),
        "tiles_per_s": round(len(rows) / (max(ends) - min(starts)), 1),
        "p50_ms": round(latencies[len(latencies) // 2] / 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] / 1000, 2),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin_cookie(owner_url: str) -> str:
    from layers.accounts.sessions import create_session, utcnow

    engine = make_engine(owner_url)
    with Session(engine) as s:
        uid = s.scalar(text("SELECT id FROM user_account WHERE username = 'admin'"))
        token, _ = create_session(s, uid, ip="127.0.0.1", user_agent="bench", now=utcnow())
        s.commit()
    engine.dispose()
    return token


def http_fetcher(port: int, cookie: str):
    def fetch(state, z, x, y):
        if "conn" not in state:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            state["conn"], state["close"] = conn, conn.close
        conn = state["conn"]
        conn.request(
            "GET",
            f"/tiles/households/{z}/{x}/{y}.pbf",
            headers={"Cookie": f"wangge_session={cookie}"},
        )
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"{r.status} for {z}/{x}/{y}")
        return len(body)

    return fetch


def browser_first_draw(port: int, owner_url: str) -> dict:
    """Seconds to the first drawn map (village outlines) and to household points at z16."""
    conn = psycopg2.connect(owner_url)
    cur = conn.cursor()
    cur.execute("SELECT ST_Y(geom), ST_X(geom) FROM household ORDER BY id LIMIT 1")
    centre = list(cur.fetchone())
    conn.close()
    from playwright.sync_api import sync_playwright

    from layers.demo.load import DEMO_PASSWORD

    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=os.environ.get("WANGGE_CHROMIUM", "/usr/bin/chromium"),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.goto(f"{base}/login?next=/healthz")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("form.login button[type=submit]")
        page.wait_for_url(f"{base}/healthz")
        t0 = time.perf_counter()
        page.goto(f"{base}/map")
        page.wait_for_function(
            "() => window.wangge && wangge.layers.villages.getContainer()"
            " && wangge.layers.villages.getContainer().querySelectorAll('path').length > 0",
            timeout=30_000,
        )
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        page.evaluate(
            "([lat, lon]) => wangge.map.setView([lat, lon], 16, {animate: false})", centre
        )
        page.wait_for_function(
            "() => wangge.layers.households.getContainer()"
            " && wangge.layers.households.getContainer().querySelectorAll('circle').length > 0",
            timeout=30_000,
        )
        households = time.perf_counter() - t0
        points = page.evaluate(
            "wangge.layers.households.getContainer().querySelectorAll('circle').length"
        )
        browser.close()
    return {
        "first_draw_s": round(first, 2),
        "households_z16_s": round(households, 2),
        "household_points_drawn": points,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--households", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=1500, help="tiles per zoom and side")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--fresh", action="store_true", help="rebuild the bench database")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--client", choices=("c", "python"), default="c" if c_clients() else "python")
    ap.add_argument("--seconds", type=float, default=8.0, help="per zoom and side (C clients)")
    ap.add_argument("--server", choices=("granian", "gunicorn"), default="granian")
    ap.add_argument("--server-workers", type=int, default=2)
    ap.add_argument("--server-threads", type=int, default=4, help="threads per worker")
    args = ap.parse_args()

    t0 = time.perf_counter()
    owner_url, app_url = prepare(args.households, args.fresh)
    prepared = time.perf_counter() - t0
    port = free_port()
    server = start(owner_url, app_url, port, args.server, args.server_workers, args.server_threads)
    result: dict = {
        "households": None,
        "cores": os.cpu_count(),
        "threads": args.threads,
        "client": "wrk + pgbench" if args.client == "c" else "python threads",
        "server": f"{args.server} {args.server_workers} workers x {args.server_threads} threads",
        "prepare_s": round(prepared, 1),
        "zooms": {},
        "targets": TARGETS,
    }
    try:
        conn = psycopg2.connect(owner_url)
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM household")
        result["households"] = cur.fetchone()[0]
        conn.close()
        cookie = admin_cookie(owner_url)
        for z in ZOOMS:
            tiles = sample_tiles(owner_url, z, args.requests, seed=z)
            run(tiles[:50], args.threads, http_fetcher(port, cookie))  # warm both sides
            run(tiles[:50], args.threads, sql_fetcher(app_url))
            if args.client == "c":
                flask = wrk_run(port, cookie, tiles, args.seconds, args.threads)
                sql = pgbench_run(owner_url, app_url, z, tiles, args.seconds, args.threads)
            else:
                flask = run(tiles, args.threads, http_fetcher(port, cookie))
                sql = run(tiles, args.threads, sql_fetcher(app_url))
            print(f"z{z}: flask {flask}, sql {sql}", file=sys.stderr)
            result["zooms"][f"z{z}"] = {
                "flask": flask,
                "sql": sql,
                "ratio": round(sql["tiles_per_s"] / flask["tiles_per_s"], 2),
            }
        if not args.no_browser:
            try:
                result["browser"] = browser_first_draw(port, owner_url)
            except Exception as exc:  # report the figures measured so far anyway
                result["browser"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        server.terminate()
        server.wait(timeout=10)
    z15 = result["zooms"]["z15"]
    result["meets"] = {
        "z15_tiles_per_s": z15["flask"]["tiles_per_s"] >= TARGETS["z15_tiles_per_s"],
        "ratio": all(v["ratio"] <= TARGETS["ratio_max"] for v in result["zooms"].values()),
        "first_draw": result.get("browser", {}).get("first_draw_s", 99) < TARGETS["first_draw_s"],
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
