// `pbfs calibrate [--out FILE] [--quick]`: times the real coding kernels on this machine and writes the
// CPU cost model (coding/cost_model.h) that synthetic-payload simulations charge. Timing lives here,
// in apps/, because the coding library itself has no clocks.
#pragma once

#include <string>
#include <vector>

namespace pbfs {

// `args` are the words after "calibrate". Returns the process exit code: 0 on success, 2 on bad usage,
// 1 if the output cannot be written. Without --out the model goes to standard output.
int run_calibrate_command(const std::vector<std::string>& args);

}  // namespace pbfs
