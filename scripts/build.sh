#!/usr/bin/env bash
# Configures and builds pbfs into build/ (Release with debug info), after installing missing packages.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs="${PBFS_JOBS:-$(nproc)}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs" "$@"
