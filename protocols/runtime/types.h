// Basic vocabulary shared by the protocols and both runtimes: time in integer nanoseconds, node and
// port identifiers. Kept tiny so that every header can include it.
#pragma once

#include <cstdint>

namespace pbfs {

using TimeNs = int64_t;    // virtual (simulated) or steady (real) nanoseconds
using NodeId = uint32_t;   // dense index of a node in the cluster, 0..n-1
using PortId = uint16_t;   // which role on a node a message is addressed to
using TimerId = uint64_t;  // unique per runtime; 0 is never a valid timer

constexpr NodeId kNoNode = 0xffffffffu;
constexpr TimeNs kNanosecond = 1;
constexpr TimeNs kMicrosecond = 1000;
constexpr TimeNs kMillisecond = 1000 * kMicrosecond;
constexpr TimeNs kSecond = 1000 * kMillisecond;

// Well-known ports: one per protocol role, so several roles share a node.
enum Port : PortId {
  kPortEcho = 1,
  kPortFleaseAcceptor = 10,
  kPortFleaseProposer = 11,
  kPortLockServer = 12,
  kPortLockClient = 13,
  kPortFragmentServer = 20,
  kPortCatalog = 21,
  kPortClient = 22,
  kPortCoordination = 30,
  kPortCoordinationClient = 31,
};

}  // namespace pbfs
