"""Start the web app as ``make serve`` does, on a free loopback port, for a benchmark."""

from __future__ import annotations

import http.client
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def command(server: str, port: int, workers: int, threads: int) -> list[str]:
    """The server's command line (``gunicorn`` or ``granian``, both WSGI)."""
    if server == "granian":
        return [
            str(ROOT / ".venv/bin/granian"), "--interface", "wsgi", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--blocking-threads", str(threads),
            "--no-ws", "--log-level", "warning", "--factory", "webgis.app:create_app",
        ]  # fmt: skip
    return [
        str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers",
        str(workers), "--threads", str(threads), "--log-level", "warning",
        "webgis.app:create_app()",
    ]  # fmt: skip


def start(
    owner_url: str, app_url: str, port: int, server: str, workers: int, threads: int
) -> subprocess.Popen:
    """Start the app on ``port`` against the given database; wait until it answers."""
    env = os.environ | {
        "DATABASE_URL": owner_url,
        "WANGGE_APP_DATABASE_URL": app_url,
        "WANGGE_SECRET_KEY": "b" * 48,
        "WANGGE_COOKIE_SECURE": "0",
    }
    proc = subprocess.Popen(command(server, port, workers, threads), env=env, cwd=ROOT)
    for _ in range(100):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"{server} did not start")
