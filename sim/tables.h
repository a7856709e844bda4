// Rows of the simulator's own trace tables (faults, resources); see docs/trace-format.md.
#pragma once

#include <cstdint>

#include "protocols/runtime/trace_schema.h"

namespace pbfs::sim {

struct FaultRow {
  int64_t time_ns;
  char kind[16];
  uint32_t node;
  char detail[48];
  int64_t end_ns;
};

inline const TableSchema& fault_schema() {
  static const TableSchema schema{
      "faults",
      "every fault injected, scheduled or swarm",
      sizeof(FaultRow),
      {PBFS_FIELD(FaultRow, time_ns, "true time the fault began"),
       PBFS_FIELD(FaultRow, kind, "fault kind (scenario name)"),
       PBFS_FIELD(FaultRow, node, "node affected; 0xffffffff when several or none"),
       PBFS_FIELD(FaultRow, detail, "parameters, human-readable"),
       PBFS_FIELD(FaultRow, end_ns, "true time it ends; -1 open-ended")}};
  return schema;
}

struct ResourceRow {
  int64_t time_ns;
  uint32_t node;
  int64_t cpu_busy_ns;
  int64_t disk_busy_ns;
  uint64_t disk_used_bytes;
  uint64_t net_tx_bytes;
  uint64_t net_rx_bytes;
  uint64_t messages_tx;
  uint64_t messages_rx;
};

inline const TableSchema& resource_schema() {
  static const TableSchema schema{
      "resources",
      "per-node resource samples every outputs.resource_sample_interval",
      sizeof(ResourceRow),
      {PBFS_FIELD(ResourceRow, time_ns, "true time of the sample"), PBFS_FIELD(ResourceRow, node, "node"),
       PBFS_FIELD(ResourceRow, cpu_busy_ns, "CPU time charged so far (all cores)"),
       PBFS_FIELD(ResourceRow, disk_busy_ns, "disk service time so far"),
       PBFS_FIELD(ResourceRow, disk_used_bytes, "bytes stored"),
       PBFS_FIELD(ResourceRow, net_tx_bytes, "bytes sent so far"),
       PBFS_FIELD(ResourceRow, net_rx_bytes, "bytes received so far"),
       PBFS_FIELD(ResourceRow, messages_tx, "messages sent so far"),
       PBFS_FIELD(ResourceRow, messages_rx, "messages received so far")}};
  return schema;
}

}  // namespace pbfs::sim
