# Simulator kernel benchmarks: hold model and ping-pong (docs/performance.md, "Simulator kernel").
pbfs_add_benchmark(sim_bench sim_bench.cc LIBS pbfs_sim)
