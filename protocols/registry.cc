// The list of every protocol's message types; one place, so both runtimes decode the same set.
#include "protocols/registry.h"

#include "protocols/coordination/coordination_messages.h"
#include "protocols/datapath/messages.h"
#include "protocols/echo/echo.h"
#include "protocols/flease/flease_messages.h"
#include "protocols/lock_service/lock_messages.h"

namespace pbfs {

void register_all_messages() {
  static const bool done = [] {
    echo::register_echo_messages();
    flease::register_flease_messages();
    lock_service::register_lock_service_messages();
    coordination::register_coordination_messages();
    datapath::register_datapath_messages();
    return true;
  }();
  (void)done;
}

}  // namespace pbfs
