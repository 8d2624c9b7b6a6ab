#!/usr/bin/env bash
# Install the Debian packages wangge needs, only when some are missing.
# Runs as root or through sudo; prints nothing when all are present (offline-friendly).
set -euo pipefail

packages=(
  postgresql-15 postgresql-15-postgis-3 postgresql-15-pgrouting  # the embedded database
  libpq-dev gcc python3-dev python3-venv                          # building psycopg2
  chromium                                                        # page tests (Playwright drives it)
  fonts-noto-cjk                                                  # Chinese text in screenshots
)
# `install-debian-deps.sh bench`: also the C load generators the benchmarks drive
# (wrk for HTTP; pgbench comes with the PostgreSQL client).
if [[ "${1:-}" == "bench" ]]; then packages+=(wrk); fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
echo "installing Debian packages: ${missing[*]}" >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
