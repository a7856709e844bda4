// Factories for the lease deployments (see flease.cc): "flease" and the central "lock_service" model,
// with the same workload, metrics and safety checker so their runs compare directly.
#pragma once

#include <memory>

#include "scenarios/deployment.h"

namespace pbfs {
std::unique_ptr<Deployment> make_flease_deployment();
std::unique_ptr<Deployment> make_lock_service_deployment();
}  // namespace pbfs
