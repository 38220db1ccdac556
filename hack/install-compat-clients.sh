#!/usr/bin/env bash
# Installs Neon's own clients for tests/compat, each only when its lock changed since the last install:
#   - neon-api (Python SDK) from tests/compat/requirements-sdk.txt into tests/compat/python-sdk, with $PYTHON's pip;
#   - neonctl and @neondatabase/api-client from tests/compat/package-lock.json into tests/compat/node_modules.
# Both targets are git-ignored. Without npm it says so and succeeds: the JavaScript clients' tests then skip,
# naming the reason.
set -euo pipefail
cd "$(dirname "$0")/../tests/compat"
PYTHON=${PYTHON:-python3}

sdk_stamp=python-sdk/.installed-lock
if ! { [[ -f $sdk_stamp ]] && cmp -s requirements-sdk.txt "$sdk_stamp"; }; then
  echo "[setup] installing Neon's Python SDK for tests/compat" >&2
  rm -rf python-sdk
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
    --target python-sdk -r requirements-sdk.txt
  cp requirements-sdk.txt "$sdk_stamp"
fi

if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "[setup] npm/node not found: tests/compat's neonctl and TypeScript SDK tests will be skipped" >&2
  exit 0
fi
stamp=node_modules/.installed-lock
if [[ -f $stamp ]] && cmp -s package-lock.json "$stamp"; then
  exit 0
fi
echo "[setup] installing Neon's JavaScript clients for tests/compat (npm ci)" >&2
# --ignore-scripts: nothing here needs an install script (esbuild's would fetch a binary).
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
