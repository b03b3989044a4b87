#!/usr/bin/env bash
# Run caseflow on the embedded SQLite database with demo data: creates the virtual environment
# .venv if it is missing, installs caseflow, creates the schema and the demo users and cases
# (idempotent), then serves the web pages and the API at http://127.0.0.1:8000/ with the
# scheduler running in-process. Ctrl-C stops it.
#
#   bash scripts/demo.sh                 # serve on 127.0.0.1:8000
#   bash scripts/demo.sh --port 9000     # any `caseflow serve` options
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import ensurepip' 2>/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
fi
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
export CASEFLOW_DATABASE_URL="${CASEFLOW_DATABASE_URL:-sqlite:///./caseflow.db}"
.venv/bin/caseflow init --demo
echo
.venv/bin/caseflow case list
echo
exec .venv/bin/caseflow serve "$@"
