// Factory for the echo deployment (see echo.cc).
#pragma once

#include <memory>

#include "scenarios/deployment.h"

namespace pbfs {
std::unique_ptr<Deployment> make_echo_deployment();
}
