// Always-on assertions for programmer errors inside the coding library (they stay in release builds:
// a broken invariant in coding code means corrupt data, which must never be silent).
#pragma once

#include <cstdio>
#include <cstdlib>

#define PBFS_CODING_CHECK(cond)                                                         \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
