#!/usr/bin/env bash
# Two pbfs binaries timed on the whole 1,000-node scenario, alternating on one core (reference first in
# each pair), so that each ratio compares runs made a minute apart. Whole runs on a shared machine vary
# by far more than most changes (docs/performance.md, "Data path"): judge a change by
# bench/compare-cachegrind.sh, and use this for the wall time the goal is stated in.
#
# usage: bench/compare-full-runs.sh REFERENCE_PBFS NEW_PBFS [pairs] [core]   (defaults: 3 pairs, core 1)
# Prints, per run, the event loop's and the whole command's wall time, user and system time and peak RSS,
# then each pair's ratio new / reference of the event loop. About two minutes per pair.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 REFERENCE_PBFS NEW_PBFS [pairs] [core]" >&2
  exit 2
fi
scenario="$(cd "$(dirname "$0")/.." && pwd)/scenarios/pbfs-1000-nodes.yaml"
binaries=("$(realpath "$1")" "$(realpath "$2")")
pairs="${3:-3}"
core="${4:-1}"
out_dir="$(mktemp -d)"
trap 'rm -rf "$out_dir"' EXIT

# One run: "event_loop_s wall_s user_s system_s peak_kb" on stdout.
run_once() {
  (cd "$out_dir" && taskset -c "$core" /usr/bin/time -f 'time %e %U %S %M' "$1" run "$scenario" --out trace.h5 \
     >run.log 2>time.log) || { echo "compare-full-runs: $1 failed:" >&2; cat "$out_dir/run.log" "$out_dir/time.log" >&2; exit 1; }
  local loop
  loop="$(sed -nE 's/^simulated .* in ([0-9.]+) s wall.*/\1/p' "$out_dir/run.log")"
  read -r _ wall user sys peak < <(grep '^time ' "$out_dir/time.log")
  echo "$loop $wall $user $sys $peak"
}

printf '%-5s %-10s %10s %10s %8s %8s %10s\n' pair binary "loop s" "wall s" "user s" "sys s" "peak MB"
ratios=()
for ((p = 1; p <= pairs; ++p)); do
  loops=()
  for i in 0 1; do
    read -r loop wall user sys peak < <(run_once "${binaries[$i]}")
    loops+=("$loop")
    printf '%-5s %-10s %10s %10s %8s %8s %10d\n' "$p" "$([[ $i == 0 ]] && echo reference || echo new)" \
      "$loop" "$wall" "$user" "$sys" "$((peak / 1024))"
  done
  ratios+=("$(awk -v a="${loops[0]}" -v b="${loops[1]}" 'BEGIN{printf "%.2f", b/a}')")
done
echo "event loop, new / reference, pair by pair: ${ratios[*]}"
