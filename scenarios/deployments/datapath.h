// Factory for the PBFS data-path deployment (see datapath.cc).
#pragma once

#include <memory>

#include "scenarios/deployment.h"

namespace pbfs {
std::unique_ptr<Deployment> make_datapath_deployment();
}
