#!/usr/bin/env bash
# Run the test suite: creates the virtual environment .venv if it is missing, installs caseflow
# with its test extras (editable), then runs `python -m pytest` with the arguments given.
#
#   bash scripts/test.sh                      # everything
#   bash scripts/test.sh tests/contract -x    # any pytest arguments
#
# The PostgreSQL variants of the tests need TEST_DATABASE_URL; without it they are skipped
# (and fail under CI=true). Start a local server with:
#   line=$(bash .ci/start-postgres.sh) && eval "$line"
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
# exec: pytest's own exit status is ours (5, "no tests collected", is a failure too)
exec .venv/bin/python -m pytest "$@"
