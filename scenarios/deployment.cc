// The table of deployments by protocol name: one line per protocol.
#include "scenarios/deployment.h"

#include <utility>

#include "scenarios/deployments/datapath.h"
#include "scenarios/deployments/echo.h"
#include "scenarios/deployments/flease.h"

namespace pbfs {
namespace {

const std::vector<std::pair<std::string, DeploymentFactory>>& factories() {
  static const std::vector<std::pair<std::string, DeploymentFactory>> table = {
      {"echo", &make_echo_deployment},
      {"pbfs", &make_datapath_deployment},
      {"flease", &make_flease_deployment},
      {"lock_service", &make_lock_service_deployment},
  };
  return table;
}

}  // namespace

std::vector<std::string> deployment_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories()) names.push_back(name);
  return names;
}

std::unique_ptr<Deployment> make_deployment(const std::string& protocol_name) {
  for (const auto& [name, factory] : factories()) {
    if (name == protocol_name) return factory();
  }
  return nullptr;
}

}  // namespace pbfs
