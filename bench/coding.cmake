# Coding core benchmarks (figures and the commands that produced them: docs/performance.md).
pbfs_add_benchmark(coding_erasure_bench ${CMAKE_CURRENT_LIST_DIR}/coding_erasure.cc LIBS pbfs_coding)
pbfs_add_benchmark(coding_aead_bench ${CMAKE_CURRENT_LIST_DIR}/coding_aead.cc LIBS pbfs_coding)
pbfs_add_benchmark(coding_pipeline_bench ${CMAKE_CURRENT_LIST_DIR}/coding_pipeline.cc LIBS pbfs_coding)
pbfs_add_benchmark(coding_placement_bench ${CMAKE_CURRENT_LIST_DIR}/coding_placement.cc LIBS pbfs_coding)
