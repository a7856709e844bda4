// A deployment turns a validated scenario into a running world for one protocol: it reads the
// protocol/workload/checks sections (with FieldReader, so errors name file, line and field), installs
// roles on nodes, drives the workload, attaches online checkers, and adds metrics and verdicts at the end.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "coding/status.h"
#include "scenarios/scenario.h"
#include "sim/world.h"

namespace pbfs {

class Deployment {
 public:
  virtual ~Deployment() = default;
  // Validates the protocol-specific sections; nothing runs if this fails.
  virtual Status configure(const Scenario& scenario) = 0;
  // Installs roles, workload drivers and checkers into a fresh world.
  virtual void install(sim::World& world) = 0;
  // After the run: metrics and checker verdicts.
  virtual void finish(sim::World& world, sim::RunSummary& summary) = 0;
};

using DeploymentFactory = std::function<std::unique_ptr<Deployment>()>;

// Registered protocol names ("echo", "flease", "lock_service", "pbfs", ...).
std::vector<std::string> deployment_names();
// Null if no deployment has that name.
std::unique_ptr<Deployment> make_deployment(const std::string& protocol_name);

}  // namespace pbfs
