#!/usr/bin/env bash
# Installs what the test suite needs beyond the venv (idempotent; CI runs it on a fresh machine).
set -euo pipefail
cd "$(dirname "$0")/../.."

# npm installs the loopback FHIR server (tests/infra/fhir_server: Medplum's engine and its own Node 22).
if ! command -v npm >/dev/null 2>&1; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm
fi

# Chromium for the browser tests (tests/browser): Debian's own package, driven by Playwright for Python
# through executable_path. Never `playwright install`, which would download a browser build.
if [ ! -x /usr/bin/chromium ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core
fi

# PostgreSQL server binaries for the storage tests: tests/infra/postgres.py runs a throwaway cluster on
# 127.0.0.1 from them (initdb + pg_ctl); the Debian package's own cluster is not used.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql
fi

# HAProxy for the multi-instance test (tests/ops/test_multi_instance.py): a round-robin proxy in front of
# two service instances, run from a temporary config (tests/infra/proxy.py); the package's own service is
# not used.
if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy
fi
