#!/usr/bin/env bash
# Installs what the test suite needs beyond the venv (idempotent; CI runs it on a fresh machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
