"""Benchmark report intake: sustained reports/s, latency, and no acknowledged report lost.

    python benchmarks/intake.py [--seconds 60] [--clients 4]

Two phases against gunicorn (2 workers × 4 threads, as ``make serve``) on the demo
town in its own database (``wangge_bench_intake``):

* ``steady``: ``--clients`` processes post reports (JSON, a random point in the
  resident's village, a unique ``client_key``) over loopback keep-alive
  connections for ``--seconds``;
* ``kill``: the same, but halfway the server is killed with SIGKILL and started
  again; a client whose request failed retries it with the same ``client_key``
  until it is answered, as a phone app does.

For each phase: reports/s (acknowledged with 201/200), p50/p95 latency of the
answered requests, and the count of acknowledged reports against the count
stored in the database for those keys: they must be equal (``lost`` = 0).
Prints one JSON object. Targets: ≥ 300 reports/s on 2 cores, p95 ≤ 50 ms, zero lost.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psycopg2
from sqlalchemy import text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.server import start  # noqa: E402
from layers import migrate  # noqa: E402
from layers.db import make_engine  # noqa: E402
from webgis.pgcluster import APP_ROLE, Cluster  # noqa: E402
from webgis.settings import var_dir  # noqa: E402

DB = "wangge_bench_intake"
USER = "resident"


def prepare() -> tuple[str, str, str, str, list[tuple[float, float]]]:
    """Database, a resident's session cookie and CSRF token, and points in his village."""
    from layers.accounts.sessions import create_session, utcnow
    from layers.demo.load import load_demo

    cluster = Cluster(var_dir() / "pg")
    cluster.ensure_running()
    url = cluster.ensure_database(DB, fresh=True)
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        load_demo(s, as_of=date(2026, 11, 1))
        uid = s.scalar(text("SELECT id FROM user_account WHERE username = :u"), {"u": USER})
        token, login = create_session(s, uid, ip="127.0.0.1", user_agent="bench", now=utcnow())
        points = s.execute(
            text(
                "SELECT ST_X(h.geom) + 0.00003, ST_Y(h.geom) FROM household h"
                " JOIN user_grant g ON g.village_id = h.village_id WHERE g.user_id = :u"
            ),
            {"u": uid},
        ).all()
        s.commit()
    engine.dispose()
    return url, cluster.url(DB, APP_ROLE), token, login.csrf_token, [tuple(p) for p in points]


def client(port, token, csrf, points, seconds, seed, out, stop_at=None):
    """Post reports until ``seconds`` have passed; retry unanswered ones with the same key."""
    rng = random.Random(seed)
    headers = {
        "Content-Type": "application/json",
        "X-CSRF-Token": csrf,
        "Cookie": f"wangge_session={token}",
    }
    conn = None
    acked, latencies, errors = [], [], 0
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
        key = f"b{seed:03d}x{n:07d}"
        lon, lat = rng.choice(points)
        body = json.dumps(
            {
                "category": "0101",
                "description": "压测：垃圾堆放",
                "lon": lon,
                "lat": lat,
                "client_key": key,
            }
        )
        while time.monotonic() < end + 30:  # an unanswered report is retried, not dropped
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                t0 = time.perf_counter()
                conn.request("POST", "/api/incidents", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status in (200, 201):
                    latencies.append(time.perf_counter() - t0)
                    acked.append(key)
                    break
                errors += 1
                if resp.status < 500:
                    break  # a refusal is an answer; it is not retried
            except (OSError, http.client.HTTPException):
                errors += 1
                conn = None
                time.sleep(0.05)
    out.put({"acked": acked, "latencies": latencies, "errors": errors})


def phase(port, token, csrf, points, seconds, clients, kill=None) -> dict:
    queue: mp.Queue = mp.Queue()
    procs = [
        mp.Process(
            target=client, args=(port, token, csrf, points, seconds, i + 100 * bool(kill), queue)
        )
        for i in range(clients)
    ]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    restarted = None
    if kill is not None:
        time.sleep(seconds / 2)
        server = kill()
        restarted = round(time.monotonic() - t0, 1)
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.monotonic() - t0
    acked = [k for r in results for k in r["acked"]]
    lat = sorted(x * 1000 for r in results for x in r["latencies"])
    out = {
        "seconds": round(elapsed, 1),
        "acknowledged": len(acked),
        "reports_per_s": round(len(acked) / seconds, 1),
        "p50_ms": round(statistics.median(lat), 1) if lat else None,
        "p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 1) if lat else None,
        "errors_retried": sum(r["errors"] for r in results),
        "keys": acked,
    }
    if restarted is not None:
        out["killed_and_restarted_at_s"] = restarted
        out["server"] = server
    return out


def stored(url: str, keys: list[str]) -> int:
    conn = psycopg2.connect(url)
    cur = conn.cursor()
    # The app stores the key prefixed by its owner (user:key), so keys of two users never clash.
    cur.execute(
        "SELECT count(DISTINCT client_key) FROM incident"
        " WHERE split_part(client_key, ':', 2) = ANY(%s)",
        (keys,),
    )
    n = cur.fetchone()[0]
    conn.close()
    return n


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--server", choices=("granian", "gunicorn"), default="granian")
    ap.add_argument("--server-workers", type=int, default=2)
    ap.add_argument("--server-threads", type=int, default=4, help="threads per worker")
    args = ap.parse_args()
    owner, app, token, csrf, points = prepare()
    port = free_port()
    serve = (args.server, args.server_workers, args.server_threads)
    server = {"proc": start(owner, app, port, *serve)}
    result = {
        "cores": os.cpu_count(),
        "clients": args.clients,
        "seconds": args.seconds,
        "server": f"{args.server} {args.server_workers} workers x {args.server_threads} threads",
    }
    try:
        steady = phase(port, token, csrf, points, args.seconds, args.clients)

        def kill_and_restart() -> str:
            # SIGKILL the whole server, workers first, then the master: nothing cleans up.
            master = server["proc"].pid
            workers = subprocess.run(
                ["pgrep", "-P", str(master)], capture_output=True, text=True, check=False
            ).stdout.split()
            for pid in [*map(int, workers), master]:
                os.kill(pid, signal.SIGKILL)
            server["proc"].wait()
            server["proc"] = start(owner, app, port, *serve)
            return "SIGKILL, restarted"

        crash = phase(port, token, csrf, points, args.seconds, args.clients, kill_and_restart)
    finally:
        server["proc"].terminate()
        server["proc"].wait()
    for name, r in (("steady", steady), ("kill", crash)):
        keys = r.pop("keys")
        r["stored"] = stored(owner, keys)
        r["lost"] = r["acknowledged"] - r["stored"]
        result[name] = r
    result["targets"] = {"reports_per_s": 300, "p95_ms": 50, "lost": 0}
    result["meets"] = {
        "reports_per_s": steady["reports_per_s"] >= 300,
        "p95_ms": (steady["p95_ms"] or 1e9) <= 50,
        "lost": steady["lost"] == 0 and crash["lost"] == 0,
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
