# Reference simulators that sim_bench is compared against (bench/compare-kernel.sh): the ns-3 hold model
# and a SimGrid S4U ping-pong. Both are optional: a program is built only when its library is installed
# (Debian: libns3-dev, libsimgrid-dev); CI installs neither and the build never requires them.

# ns-3 3.37 on Debian ships a CMake config and ns3-*.pc files, but both name
# /usr/lib/x86_64-linux-gnu/libgsl.so (only in libgsl-dev, which libns3-dev does not pull in), and the
# .pc Cflags carry a stray "-I/usr;". Finding the core library directly avoids both; libns3-core.so
# already records its GSL dependency (DT_NEEDED libgsl.so.27).
find_path(PBFS_NS3_INCLUDE_DIR ns3/simulator.h)
find_library(PBFS_NS3_CORE_LIBRARY NAMES ns3-core ns3.37-core ns3.37-core-default)
if(PBFS_NS3_INCLUDE_DIR AND PBFS_NS3_CORE_LIBRARY)
  pbfs_add_benchmark(reference_ns3_bench ${CMAKE_CURRENT_LIST_DIR}/reference_ns3_bench.cc LIBS ${PBFS_NS3_CORE_LIBRARY})
  target_include_directories(reference_ns3_bench SYSTEM PRIVATE ${PBFS_NS3_INCLUDE_DIR})
  message(STATUS "pbfs: ns-3 core found (${PBFS_NS3_CORE_LIBRARY}): building reference_ns3_bench")
else()
  message(STATUS "pbfs: ns-3 core not found: reference_ns3_bench is not built")
endif()

# SimGrid 3.32 ships a clean simgrid.pc (its CMake module is not installed by Debian).
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PBFS_SIMGRID QUIET IMPORTED_TARGET simgrid)
endif()
if(PBFS_SIMGRID_FOUND)
  pbfs_add_benchmark(reference_simgrid_bench ${CMAKE_CURRENT_LIST_DIR}/reference_simgrid_bench.cc
                     LIBS PkgConfig::PBFS_SIMGRID)
  message(STATUS "pbfs: SimGrid ${PBFS_SIMGRID_VERSION} found: building reference_simgrid_bench")
else()
  message(STATUS "pbfs: SimGrid not found: reference_simgrid_bench is not built")
endif()
