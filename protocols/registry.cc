// The list of every protocol's message types; one place, so both runtimes decode the same set.
#include "protocols/registry.h"

#include "protocols/echo/echo.h"

namespace pbfs {

void register_all_messages() {
  static const bool done = [] {
    echo::register_echo_messages();
    return true;
  }();
  (void)done;
}

}  // namespace pbfs
