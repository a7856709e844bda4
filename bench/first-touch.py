#!/usr/bin/python3
"""What memory touched for the first time costs on this machine, against the same memory touched again.

Maps anonymous memory (transparent huge pages asked for, as the pbfs binary's allocator does), writes
one byte per 4 KiB page, unmaps it, and does that `passes` times in one process. On a virtual machine
whose host takes free memory back, the first pass pays the host's faults as well as the kernel's
zeroing; later passes reuse pages the guest still holds. docs/performance.md explains why this matters
for whole-run times.

usage: bench/first-touch.py [GiB] [passes]   (defaults: 2 GiB, 3 passes)
"""
import mmap
import sys
import time

PAGE = 4096


def touch(size: int) -> float:
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        m.madvise(mmap.MADV_HUGEPAGE)
    start = time.perf_counter()
    for offset in range(0, size, PAGE):
        m[offset] = 1
    elapsed = time.perf_counter() - start
    m.close()
    return elapsed


def main() -> int:
    gib = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    passes = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    size = int(gib * (1 << 30)) // PAGE * PAGE
    for p in range(1, passes + 1):
        print(f"pass {p}: {touch(size):.2f} s for {gib:g} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
