# Data-path benchmarks: catalog memory per record, record store speed, a replicated catalog group on
# the simulator (docs/performance.md, "Catalog").
pbfs_add_benchmark(catalog_bench catalog_bench.cc LIBS pbfs_sim)
