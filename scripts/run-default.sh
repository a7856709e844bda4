#!/usr/bin/env bash
# Installs what is missing, builds, and runs the default scenario: writes its trace and prints a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh --target pbfs
mkdir -p out
exec build/apps/pbfs run "${PBFS_SCENARIO:-scenarios/pbfs-small-overwrites.yaml}" --out out/default.h5 "$@"
