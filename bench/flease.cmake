# Lease benchmarks: Flease against the central lock-service model on the same topologies, plus the long
# randomized safety sweep (docs/performance.md, "Leases").
pbfs_add_benchmark(flease_bench flease_bench.cc LIBS pbfs_scenarios)
target_compile_definitions(flease_bench PRIVATE PBFS_SCENARIOS_DIR="${CMAKE_SOURCE_DIR}/scenarios")
