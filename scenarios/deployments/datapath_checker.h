// Online checkers of the data path that need only trace rows: read correctness (every byte a read
// returns comes from the record that was the latest committed one covering it at some instant during
// the read) and GC safety (a collected record is no longer the latest anywhere). They keep, per file, a
// map of byte ranges to the recent history of records that were latest there, pruned to a window.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "coding/ids.h"
#include "protocols/runtime/types.h"

namespace pbfs {

class DataPathChecker {
 public:
  // Reads lasting longer than `window_ns` may be reported unverifiable rather than checked.
  explicit DataPathChecker(TimeNs window_ns = 120 * kSecond) : window_ns_(window_ns) {}

  // A record became committed (writes and compactions alike), with its place in the file's order.
  void commit(FileId file, const RecordId& record, uint64_t sequence, const Extent& extent, TimeNs time_ns,
              bool compaction = false);
  // A read that ran over [start_ns, end_ns] returned bytes [offset, offset + length) of `file` from
  // `record` (`hole` when it claims no record covers them).
  void read_piece(FileId file, uint64_t offset, uint64_t length, const RecordId& record, bool hole, TimeNs start_ns,
                  TimeNs end_ns);
  // Compaction record `compaction` holds, at [offset, offset + length), a copy of what `source` held
  // (`hole`: zeros). Right only if `source` was the latest record there among those older than the
  // compaction: otherwise the compaction hid a newer write (a lost update).
  void compaction_source(FileId file, const RecordId& compaction, uint64_t offset, uint64_t length,
                         const RecordId& source, bool hole);
  // The catalog garbage-collected a record: right only if a later compaction covering its whole extent
  // had been committed (that is what supersedes a record).
  void collected(FileId file, const RecordId& record, TimeNs time_ns);

  uint64_t read_violations() const { return read_violations_; }
  uint64_t gc_violations() const { return gc_violations_; }
  uint64_t pieces_checked() const { return pieces_checked_; }
  uint64_t pieces_unverifiable() const { return pieces_unverifiable_; }
  uint64_t collections_checked() const { return collections_checked_; }
  const std::string& first_read_violation() const { return first_read_violation_; }
  const std::string& first_gc_violation() const { return first_gc_violation_; }

 private:
  struct Entry {
    uint64_t sequence;
    TimeNs time_ns;
    RecordId record;
  };
  struct Segment {
    uint64_t end;
    std::vector<Entry> history;  // ascending sequence; the last is the latest record here
  };
  using FileMap = std::map<uint64_t, Segment>;  // start -> segment, covering only written bytes

  static void split(FileMap& map, uint64_t at);
  void prune(std::vector<Entry>& history, TimeNs now_ns) const;
  void read_violation(const std::string& what);

  TimeNs window_ns_;
  std::unordered_map<FileId, FileMap> files_;
  struct Known {
    Extent extent;
    uint64_t sequence;
  };
  std::map<RecordId, Known> records_;
  struct Compaction {
    uint64_t sequence;
    Extent extent;
  };
  std::unordered_map<FileId, std::vector<Compaction>> compactions_;
  uint64_t read_violations_ = 0;
  uint64_t gc_violations_ = 0;
  uint64_t pieces_checked_ = 0;
  uint64_t pieces_unverifiable_ = 0;
  uint64_t collections_checked_ = 0;
  std::string first_read_violation_;
  std::string first_gc_violation_;
};

}  // namespace pbfs
