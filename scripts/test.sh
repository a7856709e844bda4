#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test (GoogleTest and pytest, via ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
cd build
ctest --output-on-failure -j "${PBFS_JOBS:-$(nproc)}" --timeout 900
