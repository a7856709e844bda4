// The lease safety checker: a pure class fed lease_attempts and lease_intervals rows in the order they
// were recorded (online through World::observe_table, or offline from a trace), plus samples of the
// clock spread (largest difference between two nodes' clocks). It checks that at no true time two nodes
// believe they hold the same lease, that renewals only extend, and that epochs strictly rise. Violations
// that happen once the spread has exceeded ε are reported as "assumption violated", not as bugs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "protocols/flease/lease.h"

namespace pbfs::lease {

class LeaseChecker {
 public:
  explicit LeaseChecker(TimeNs epsilon_ns) : epsilon_ns_(epsilon_ns) {}

  void on_attempt(const AttemptRow& row);
  void on_interval(const IntervalRow& row);
  // The largest clock difference between any two nodes at true time `true_ns`.
  void on_clock_spread(TimeNs true_ns, TimeNs spread_ns);

  struct Tenure {
    ResourceId resource = 0;
    NodeId holder = kNoNode;
    uint64_t epoch = 0;
    TimeNs start_local_ns = 0;
    TimeNs start_true_ns = 0;
    TimeNs expiry_local_ns = 0;
    uint32_t renewals = 0;
  };
  // Tenures begun and not yet ended, by resource then holder (for closing them at a crash or run end).
  std::vector<Tenure> open_tenures(NodeId holder = kNoNode) const;

  struct Report {
    uint64_t tenures = 0;
    uint64_t renewals = 0;
    uint64_t overlaps = 0;             // two holders at once
    uint64_t shrinking_renewals = 0;   // a renewal that moved the expiry earlier or changed the epoch
    uint64_t epoch_regressions = 0;    // a tenure whose epoch is not above every earlier one
    uint64_t inconsistencies = 0;      // rows that contradict each other (a recording bug)
    uint64_t bugs = 0;                 // violations while the clock assumption held
    uint64_t excused = 0;              // violations after the clock spread exceeded ε
    bool assumption_violated = false;  // the clock spread exceeded ε at some point
    TimeNs max_spread_ns = 0;
    TimeNs first_excess_true_ns = -1;
    std::string first_bug;             // description of the first bug ("" if none)
    std::string first_excused;
    uint64_t violations() const { return bugs + excused; }
  };
  const Report& report() const { return report_; }
  // One line: "ok: 12 tenures ...", "BUG: ..." or "assumption violated: clock spread ...".
  std::string summary() const;

 private:
  struct ResourceState {
    std::map<NodeId, Tenure> open;
    uint64_t max_epoch = 0;
  };
  void violation(uint64_t& counter, TimeNs at_true_ns, const std::string& what);

  TimeNs epsilon_ns_;
  std::map<ResourceId, ResourceState> resources_;
  Report report_;
};

}  // namespace pbfs::lease
