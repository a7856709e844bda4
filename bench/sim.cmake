# Simulator kernel benchmarks: hold model and ping-pong (docs/performance.md, "Simulator kernel").
pbfs_add_benchmark(sim_bench sim_bench.cc LIBS pbfs_sim)
# What a dependent random read costs here, over 4 MiB, 16 MiB and 2 GiB (docs/performance.md, "Data path").
pbfs_add_benchmark(memory_latency_bench memory_latency_bench.cc)
