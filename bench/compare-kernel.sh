#!/usr/bin/env bash
# Simulator kernel against reference simulators, measured in the same run on this machine: sim_bench's
# hold model and ping-pong beside ns-3 (reference_ns3_bench) and SimGrid (reference_simgrid_bench),
# printed as one table of rates and ratios (docs/performance.md, "Simulator kernel").
#
# usage: bench/compare-kernel.sh [build-dir]      (default: build/)
# The reference programs exist only where libns3-dev / libsimgrid-dev were installed at configure time;
# without them the table shows pbfs's figures alone.
set -euo pipefail

build_dir="${1:-build}"
python=/usr/bin/python3
simgrid_pairs=(1 100 1000 10000)

# Benchmarks live in <build>/bench in the project's build; accept a flat build directory too.
find_program() {
  local name="$1" dir
  for dir in "$build_dir/bench" "$build_dir"; do
    if [[ -x "$dir/$name" ]]; then
      echo "$dir/$name"
      return 0
    fi
  done
  return 1
}

sim_bench="$(find_program sim_bench)" || {
  echo "compare-kernel: sim_bench not found under $build_dir (build it: ninja -C $build_dir sim_bench)" >&2
  exit 1
}

out_dir="$(mktemp -d)"
trap 'rm -rf "$out_dir"' EXIT

echo "compare-kernel: running $sim_bench" >&2
"$sim_bench" --benchmark_filter='^BM_(HoldModel|PingPong)/' --benchmark_format=json >"$out_dir/pbfs.json"

if ns3_bench="$(find_program reference_ns3_bench)"; then
  echo "compare-kernel: running $ns3_bench" >&2
  "$ns3_bench" --benchmark_format=json >"$out_dir/ns3.json" ||
    echo "compare-kernel: reference_ns3_bench failed (exit $?)" >&2
else
  echo "compare-kernel: reference_ns3_bench not built (ns-3 core not found at configure time): no ns-3 column" >&2
fi

# SimGrid's engine cannot be re-created inside one process: one run per size.
if simgrid_bench="$(find_program reference_simgrid_bench)"; then
  for pairs in "${simgrid_pairs[@]}"; do
    echo "compare-kernel: running $simgrid_bench --pairs=$pairs" >&2
    "$simgrid_bench" --pairs="$pairs" --benchmark_format=json >"$out_dir/simgrid-$pairs.json" ||
      echo "compare-kernel: reference_simgrid_bench --pairs=$pairs failed (exit $?)" >&2
  done
else
  echo "compare-kernel: reference_simgrid_bench not built (SimGrid not found at configure time): no SimGrid column" >&2
fi

"$python" - "$out_dir" <<'PY'
import glob, json, os, sys

out_dir = sys.argv[1]

def load(pattern):
    """{(benchmark, size): run} from every Google Benchmark JSON file matching pattern."""
    runs, context = {}, None
    for path in sorted(glob.glob(os.path.join(out_dir, pattern))):
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            continue
        context = context or doc.get("context")
        for run in doc.get("benchmarks", []):
            parts = run["name"].split("/")
            if len(parts) >= 2 and parts[1].isdigit() and run.get("run_type", "iteration") == "iteration":
                runs[(parts[0], int(parts[1]))] = run
    return runs, context

ours, context = load("pbfs.json")
ns3, _ = load("ns3.json")
simgrid, _ = load("simgrid-*.json")
have_ns3 = bool(glob.glob(os.path.join(out_dir, "ns3.json"))) and bool(ns3)
have_simgrid = bool(simgrid)

def value(runs, key, counter):
    run = runs.get(key)
    if run is None or run.get("error_occurred"):
        return None
    return run.get(counter)

def si(x):
    if x is None:
        return "-"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"

def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"

def table(title, header, rows):
    print(title)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    for row in [header] + rows:
        print("  " + "  ".join(str(c).rjust(w) for c, w in zip(row, widths)))
    print()

if context:
    print(f"host: {context.get('host_name', '?')}, {context.get('num_cpus', '?')} CPUs at "
          f"{context.get('mhz_per_cpu', '?')} MHz, load average {context.get('load_avg', '?')}, "
          f"{context.get('date', '')}")
    print("rates are per CPU second of the timed region (Google Benchmark's default)\n")

sizes = sorted(n for name, n in ours if name == "BM_HoldModel")
header = ["pending", "pbfs events/s"] + (["ns-3 events/s", "pbfs/ns-3"] if have_ns3 else [])
rows = []
for n in sizes:
    a = value(ours, ("BM_HoldModel", n), "events_per_s")
    row = [n, si(a)]
    if have_ns3:
        b = value(ns3, ("BM_HoldModel", n), "events_per_s")
        row += [si(b), ratio(a, b)]
    rows.append(row)
table("Hold model (events/s; higher is better)" + ("" if have_ns3 else " -- ns-3 reference not available"),
      header, rows)

sizes = sorted(n for name, n in ours if name == "BM_PingPong")
header = ["pairs", "pbfs msgs/s"]
if have_simgrid:
    header += ["SimGrid msgs/s", "pbfs/SimGrid"]
header += ["pbfs B/node"]
if have_simgrid:
    header += ["SimGrid heap B/node", "pbfs/SimGrid", "SimGrid setup-heap B/node", "SimGrid peak-RSS B/node"]
rows = []
for p in sizes:
    key = ("BM_PingPong", p)
    rate, mem = value(ours, key, "msgs_per_s"), value(ours, key, "bytes_per_node")
    row = [p, si(rate)]
    if have_simgrid:
        ref = value(simgrid, key, "msgs_per_s")
        row += [si(ref), ratio(rate, ref)]
    row += [si(mem)]
    if have_simgrid:
        ref_mem = value(simgrid, key, "bytes_per_node")
        row += [si(ref_mem), ratio(mem, ref_mem), si(value(simgrid, key, "setup_bytes_per_node")),
                si(value(simgrid, key, "rss_bytes_per_node"))]
    rows.append(row)
table("Ping-pong, 1000-byte messages, racks of 40 (msgs/s: higher is better; B/node: lower is better)"
      + ("" if have_simgrid else " -- SimGrid reference not available"), header, rows)
if have_simgrid:
    print("B/node: heap in use per node (mallinfo2, same method on both sides). SimGrid setup-heap: after\n"
          "platform and actor creation only (leaves out ~250 KB SimGrid keeps after its first run, which\n"
          "dominates at small P). SimGrid peak-RSS: also counts the touched part of every actor's stack.\n")
else:
    print("B/node: heap in use per node (mallinfo2).\n")

for name, runs in (("pbfs", ours), ("ns-3", ns3), ("SimGrid", simgrid)):
    for key, run in sorted(runs.items()):
        if run.get("error_occurred"):
            print(f"{name} {key[0]}/{key[1]} failed: {run.get('error_message', '?')}")
PY
