#!/usr/bin/env bash
# Set up everything mi-warehouse needs on a fresh machine: Java 17 (for the embedded HiveServer2),
# a virtual environment in .venv, and the package with its test extras. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

java_ok() {
  command -v java >/dev/null 2>&1 || return 1
  local v
  v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ -n "$v" ] && [ "$v" -ge 17 ]
}

if ! java_ok; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing Java 17 (openjdk-17-jre-headless)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  else
    echo "bootstrap: Java 17 is missing: install it (Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless)" >&2
    exit 1
  fi
fi

# docker-compose validates docker/compose.yaml offline in the tests (no Docker engine needed)
if ! command -v docker-compose >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "bootstrap: installing docker-compose (to validate docker/compose.yaml)" >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; } || \
    echo "bootstrap: docker-compose could not be installed; its test will be skipped" >&2
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.mi-warehouse-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing mi-warehouse and its dependencies into $VENV" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e '.[test]'
  touch "$stamp"
fi
