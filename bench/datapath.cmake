# Data-path benchmarks: catalog memory per record, record store speed, a replicated catalog group on
# the simulator (docs/performance.md, "Catalog"); the fragment servers' index over a thousand cold tables.
pbfs_add_benchmark(catalog_bench catalog_bench.cc LIBS pbfs_sim)
pbfs_add_benchmark(fragment_table_bench fragment_table_bench.cc LIBS pbfs_protocols)
