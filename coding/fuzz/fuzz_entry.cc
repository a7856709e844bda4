// libFuzzer entry point; built once per target with PBFS_FUZZ_FUNCTION naming the target function.
#include "coding/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pbfs::fuzz::PBFS_FUZZ_FUNCTION(data, size);
  return 0;
}
