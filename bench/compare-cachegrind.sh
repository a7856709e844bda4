#!/usr/bin/env bash
# Two pbfs binaries compared on the 1,000-node scenario cut to a number of operations, under cachegrind:
# instructions and last-level cache misses are counted exactly, so the figures are the same on every
# run, where whole runs on a shared machine vary by more than most changes (docs/performance.md, "Data
# path"). The last-level cache is 2 MiB so that the cut run's state, like the full run's, does not fit.
#
# usage: bench/compare-cachegrind.sh REFERENCE_PBFS NEW_PBFS [operations]   (default: 50000)
# Both run at once, one per core, each in its own directory; about 70 s at 50,000 operations.
# Needs valgrind (apt-get install valgrind).
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 REFERENCE_PBFS NEW_PBFS [operations]" >&2
  exit 2
fi
command -v valgrind >/dev/null || { echo "compare-cachegrind: valgrind not found (apt-get install valgrind)" >&2; exit 1; }
scenario="$(cd "$(dirname "$0")/.." && pwd)/scenarios/pbfs-1000-nodes.yaml"
operations="${3:-50000}"
binaries=("$(realpath "$1")" "$(realpath "$2")")
out_dir="$(mktemp -d)"
trap 'rm -rf "$out_dir"' EXIT

for i in 0 1; do
  mkdir -p "$out_dir/$i"
  (cd "$out_dir/$i" && valgrind --tool=cachegrind --cache-sim=yes --LL=2097152,16,64 --cachegrind-out-file=cg.out \
     "${binaries[$i]}" run "$scenario" --set workload.operations="$operations" --out trace.h5 >run.log 2>vg.log) &
done
wait

# "==pid== I   refs:      12,758,087,391" and "==pid== LL misses:   48,526,371  (...)"
count() { grep -E "$2" "$out_dir/$1/vg.log" | head -1 | sed -E 's/.*: *([0-9,]+).*/\1/' | tr -d ,; }
for i in 0 1; do
  grep -q '^simulated' "$out_dir/$i/run.log" || { echo "compare-cachegrind: ${binaries[$i]} failed:" >&2; cat "$out_dir/$i/run.log" >&2; exit 1; }
done
ir=("$(count 0 'I +refs')" "$(count 1 'I +refs')")
ll=("$(count 0 'LL misses')" "$(count 1 'LL misses')")
printf '%-12s %16s %16s %8s\n' "" reference new ratio
printf '%-12s %16s %16s %8s\n' instructions "${ir[0]}" "${ir[1]}" "$(awk -v a="${ir[0]}" -v b="${ir[1]}" 'BEGIN{printf "%.3f", b/a}')"
printf '%-12s %16s %16s %8s\n' "LL misses" "${ll[0]}" "${ll[1]}" "$(awk -v a="${ll[0]}" -v b="${ll[1]}" 'BEGIN{printf "%.3f", b/a}')"
# The same scenario and seed should simulate the same run; say so when they do not.
if ! diff <(grep -E '^(simulated|messages)' "$out_dir/0/run.log" | sed -E 's/ in [0-9.]+ s wall//; s/\([0-9.]+M events\/s\)//') \
          <(grep -E '^(simulated|messages)' "$out_dir/1/run.log" | sed -E 's/ in [0-9.]+ s wall//; s/\([0-9.]+M events\/s\)//') >/dev/null; then
  echo "note: the two runs simulated different event or message counts (the change alters behaviour)"
fi
