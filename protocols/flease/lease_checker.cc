// Lease safety checker (protocols/flease/lease_checker.h). Two tenures of one resource overlap exactly
// when one of them ends while the other is open and began strictly earlier, so the check runs when a
// tenure ends: every overlapping pair is found once, with no look-ahead, online or offline.
#include "protocols/flease/lease_checker.h"

#include <algorithm>
#include <cstdio>

namespace pbfs::lease {
namespace {

std::string ms(TimeNs ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ns) / 1e6);
  return std::string(buf) + " ms";
}

std::string seconds(TimeNs ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(ns) / 1e9);
  return std::string(buf) + " s";
}

}  // namespace

void LeaseChecker::violation(uint64_t& counter, TimeNs at_true_ns, const std::string& what) {
  ++counter;
  const bool excused = report_.first_excess_true_ns >= 0 && report_.first_excess_true_ns <= at_true_ns;
  if (excused) {
    ++report_.excused;
    if (report_.first_excused.empty()) report_.first_excused = what;
  } else {
    ++report_.bugs;
    if (report_.first_bug.empty()) report_.first_bug = what;
  }
}

void LeaseChecker::on_clock_spread(TimeNs true_ns, TimeNs spread_ns) {
  if (spread_ns > report_.max_spread_ns) report_.max_spread_ns = spread_ns;
  if (spread_ns > epsilon_ns_ && report_.first_excess_true_ns < 0) {
    report_.first_excess_true_ns = true_ns;
    report_.assumption_violated = true;
  }
}

void LeaseChecker::on_attempt(const AttemptRow& row) {
  const auto outcome = static_cast<AttemptOutcome>(row.outcome);
  if (outcome != AttemptOutcome::kAcquired && outcome != AttemptOutcome::kRenewed) return;
  ResourceState& r = resources_[row.resource];
  const std::string who = "resource " + std::to_string(row.resource) + " node " + std::to_string(row.node);
  auto it = r.open.find(row.node);
  if (outcome == AttemptOutcome::kRenewed) {
    ++report_.renewals;
    if (it == r.open.end()) {
      violation(report_.inconsistencies, row.end_true_ns, who + ": renewed a lease it did not hold");
      return;
    }
    if (row.epoch != it->second.epoch || row.expiry_local_ns < it->second.expiry_local_ns) {
      violation(report_.shrinking_renewals, row.end_true_ns,
                who + ": renewal moved expiry " + seconds(it->second.expiry_local_ns) + " -> " +
                    seconds(row.expiry_local_ns) + ", epoch " + std::to_string(it->second.epoch) + " -> " +
                    std::to_string(row.epoch));
    }
    it->second.expiry_local_ns = row.expiry_local_ns;
    ++it->second.renewals;
    return;
  }
  ++report_.tenures;
  if (it != r.open.end()) {
    violation(report_.inconsistencies, row.end_true_ns, who + ": acquired a lease it already held");
    r.open.erase(it);
  }
  if (row.epoch <= r.max_epoch) {
    violation(report_.epoch_regressions, row.end_true_ns,
              who + ": new tenure at " + seconds(row.end_true_ns) + " has epoch " + std::to_string(row.epoch) +
                  ", not above earlier epoch " + std::to_string(r.max_epoch));
  }
  r.max_epoch = std::max(r.max_epoch, row.epoch);
  r.open[row.node] = Tenure{row.resource, row.node, row.epoch, row.end_local_ns, row.end_true_ns, row.expiry_local_ns, 0};
}

void LeaseChecker::on_interval(const IntervalRow& row) {
  ResourceState& r = resources_[row.resource];
  auto it = r.open.find(row.holder);
  const std::string who = "resource " + std::to_string(row.resource) + " node " + std::to_string(row.holder);
  if (it == r.open.end() || it->second.epoch != row.epoch || it->second.start_true_ns != row.start_true_ns) {
    violation(report_.inconsistencies, row.end_true_ns, who + ": ended a tenure that was not open");
    if (it != r.open.end()) r.open.erase(it);
    return;
  }
  r.open.erase(it);
  for (const auto& [other, tenure] : r.open) {
    if (tenure.start_true_ns >= row.end_true_ns) continue;
    const TimeNs from = std::max(tenure.start_true_ns, row.start_true_ns);
    violation(report_.overlaps, from,
              "resource " + std::to_string(row.resource) + ": nodes " + std::to_string(row.holder) + " (epoch " +
                  std::to_string(row.epoch) + ") and " + std::to_string(other) + " (epoch " +
                  std::to_string(tenure.epoch) + ") both held it from " + seconds(from) + " to " +
                  seconds(row.end_true_ns));
  }
}

std::vector<LeaseChecker::Tenure> LeaseChecker::open_tenures(NodeId holder) const {
  std::vector<Tenure> out;
  for (const auto& [resource, state] : resources_) {
    for (const auto& [node, tenure] : state.open) {
      if (holder == kNoNode || node == holder) out.push_back(tenure);
    }
  }
  return out;
}

std::string LeaseChecker::summary() const {
  const Report& r = report_;
  std::string counts = std::to_string(r.tenures) + " tenures, " + std::to_string(r.renewals) + " renewals, " +
                       std::to_string(r.overlaps) + " overlaps, " + std::to_string(r.shrinking_renewals) +
                       " shrinking renewals, " + std::to_string(r.epoch_regressions) + " epoch regressions, " +
                       std::to_string(r.inconsistencies) + " inconsistent rows; max clock spread " +
                       ms(r.max_spread_ns) + " (epsilon " + ms(epsilon_ns_) + ")";
  if (r.bugs > 0) return "BUG: " + r.first_bug + " [" + counts + "]";
  if (r.assumption_violated) {
    return "assumption violated: clock spread exceeded epsilon from " + seconds(r.first_excess_true_ns) +
           (r.excused > 0 ? "; then " + r.first_excused : std::string("; no violation followed")) + " [" +
           counts + "]";
  }
  return "ok: " + counts;
}

}  // namespace pbfs::lease
