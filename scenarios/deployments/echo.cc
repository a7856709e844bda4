// The echo deployment: `workload.pairs` pingers each talk to a peer half the cluster away, closed-loop
// or at a fixed interval. It exercises the kernel, network and fault models before the PBFS protocols.
#include "scenarios/deployments/echo.h"

#include <algorithm>
#include <vector>

#include "protocols/echo/echo.h"
#include "scenarios/fields.h"

namespace pbfs {
namespace {

class EchoDeployment final : public Deployment {
 public:
  Status configure(const Scenario& scenario) override {
    FieldReader protocol = scenario.section("protocol");
    (void)protocol.string("name", "echo");
    config_.message_bytes = protocol.bytes("message_bytes", 1000);
    config_.real_payload = protocol.boolean("real_payload", scenario.payload == PayloadFidelity::kReal);
    Status status = protocol.finish();
    if (!status.is_ok()) return status;
    FieldReader workload = scenario.section("workload");
    const uint32_t nodes = scenario.node_count();
    pairs_ = static_cast<uint32_t>(workload.integer("pairs", 1, 1, std::max<int64_t>(1, nodes / 2)));
    config_.interval_ns = workload.duration("interval", 0);
    config_.count_max = static_cast<uint64_t>(workload.integer("count", 0, 0, INT64_MAX));
    config_.timeout_ns = workload.duration("timeout", kSecond);
    status = workload.finish();
    if (!status.is_ok()) return status;
    if (nodes < 2) return Status(StatusCode::kInvalidArgument, scenario.file + ": echo needs at least 2 nodes");
    if (scenario.checks.IsDefined() && !scenario.checks.IsNull() && scenario.checks.size() > 0) {
      return Status(StatusCode::kInvalidArgument,
                    scenario.file + ":" + std::to_string(scenario.checks.Mark().line + 1) +
                        ": checks: the echo protocol has no checkers");
    }
    return Status::ok();
  }

  void install(sim::World& world) override {
    const uint32_t n = world.node_count();
    rtts_.clear();
    world.observe_table(echo::round_trip_schema().name, [this](const void* row) {
      const auto* r = static_cast<const echo::RoundTripRow*>(row);
      rtts_.push_back(r->end_ns - r->start_ns);
    });
    for (NodeId node = 0; node < n; ++node) {
      world.add_role(node, kPortEcho, [](Runtime& rt) { return std::make_unique<echo::Echoer>(rt); });
    }
    for (uint32_t i = 0; i < pairs_; ++i) {
      echo::PingerConfig config = config_;
      config.peer = (i + n / 2) % n;
      world.add_role(i, kPortClient, [config](Runtime& rt) { return std::make_unique<echo::Pinger>(rt, config); });
    }
  }

  void finish(sim::World& world, sim::RunSummary& summary) override {
    summary.metrics["echo.round_trips"] = static_cast<double>(rtts_.size());
    if (rtts_.empty()) return;
    std::sort(rtts_.begin(), rtts_.end());
    summary.metrics["echo.rtt_p50_us"] = static_cast<double>(rtts_[rtts_.size() / 2]) / 1e3;
    summary.metrics["echo.rtt_p99_us"] = static_cast<double>(rtts_[rtts_.size() * 99 / 100]) / 1e3;
  }

 private:
  echo::PingerConfig config_;
  uint32_t pairs_ = 1;
  std::vector<TimeNs> rtts_;
};

}  // namespace

std::unique_ptr<Deployment> make_echo_deployment() { return std::make_unique<EchoDeployment>(); }

}  // namespace pbfs
