// A node's local clock: offset, drift (ppm) and steps relative to true (simulated) time. Protocols read
// it through Runtime::local_now_ns(); timers run at the clock's rate but ignore steps, like a monotonic
// clock, while local_now_ns() includes them, like a wall clock that NTP steps.
#pragma once

#include <cstdint>

#include "protocols/runtime/types.h"

namespace pbfs::sim {

class NodeClock {
 public:
  NodeClock() = default;
  NodeClock(TimeNs offset_ns, double drift_ppm) : base_local_ns_(offset_ns), drift_ppm_(drift_ppm) {}

  // Local time at true time `true_ns` (true_ns must not precede the last change).
  TimeNs local_ns(TimeNs true_ns) const {
    const TimeNs elapsed = true_ns - base_true_ns_;
    return base_local_ns_ + elapsed + static_cast<TimeNs>(static_cast<double>(elapsed) * drift_ppm_ * 1e-6);
  }
  // True duration that elapses while this clock advances by `local_ns` (at the current rate).
  TimeNs true_duration_ns(TimeNs local_ns) const {
    const double true_ns = static_cast<double>(local_ns) / (1.0 + drift_ppm_ * 1e-6);
    const TimeNs rounded = static_cast<TimeNs>(true_ns);
    return rounded < static_cast<double>(true_ns) ? rounded + 1 : rounded;
  }
  // The clock jumps by `delta_ns` at true time `now_ns`.
  void step(TimeNs now_ns, TimeNs delta_ns) { rebase(now_ns); base_local_ns_ += delta_ns; }
  // From `now_ns` on, the clock runs at (1 + ppm·10⁻⁶) times true speed.
  void set_drift(TimeNs now_ns, double drift_ppm) { rebase(now_ns); drift_ppm_ = drift_ppm; }
  double drift_ppm() const { return drift_ppm_; }
  // Local minus true time at `true_ns`.
  TimeNs skew_ns(TimeNs true_ns) const { return local_ns(true_ns) - true_ns; }

 private:
  void rebase(TimeNs now_ns) { base_local_ns_ = local_ns(now_ns); base_true_ns_ = now_ns; }
  TimeNs base_true_ns_ = 0;
  TimeNs base_local_ns_ = 0;
  double drift_ppm_ = 0;
};

}  // namespace pbfs::sim
