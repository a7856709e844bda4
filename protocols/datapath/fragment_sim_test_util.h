// Test access to the fragments a fragment server left on a simulated disk, found the way a restart
// finds them: through the durable manifest, then the durable bytes of the log file it names.
#pragma once

#include <optional>

#include "protocols/datapath/fragment_server.h"
#include "sim/disk.h"

namespace pbfs::datapath {

struct DurableFragment {
  const sim::Disk::File* log = nullptr;  // the log file holding it
  FragmentLocation location;
  // Its durable bytes (real payloads only).
  Bytes bytes() const { return log->data.read(location.offset, location.size); }
};

// nullopt unless the disk's durable manifest lists the fragment and its log holds all of its bytes.
inline std::optional<DurableFragment> durable_fragment(const sim::Disk& disk, FileId file, const RecordId& record,
                                                       uint32_t index) {
  const sim::Disk::File* manifest = disk.durable_file(kFragmentManifestFile);
  if (manifest == nullptr || !manifest->real) return std::nullopt;
  const auto stored = read_manifest(manifest->bytes());
  const FragmentLocation* found = stored.find(FragmentKey{file, record, index});
  if (found == nullptr) return std::nullopt;
  const sim::Disk::File* log = disk.durable_file(fragment_log_file(found->log));
  if (log == nullptr || log->size < found->offset + found->size) return std::nullopt;
  return DurableFragment{log, *found};
}

}  // namespace pbfs::datapath
