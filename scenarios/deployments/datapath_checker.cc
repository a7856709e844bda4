// Read-correctness and GC-safety checking over commit, read-piece and collection rows.
#include "scenarios/deployments/datapath_checker.h"

#include <algorithm>

namespace pbfs {

void DataPathChecker::split(FileMap& map, uint64_t at) {
  auto it = map.upper_bound(at);
  if (it == map.begin()) return;
  --it;
  if (it->first == at || it->second.end <= at) return;
  Segment right{it->second.end, it->second.history};
  it->second.end = at;
  map.emplace(at, std::move(right));
}

void DataPathChecker::prune(std::vector<Entry>& history, TimeNs now_ns) const {
  // Entries superseded before the window began can no longer justify any read we will check.
  size_t drop = 0;
  while (drop + 1 < history.size() && history[drop + 1].time_ns < now_ns - window_ns_) ++drop;
  if (drop > 0) history.erase(history.begin(), history.begin() + static_cast<std::ptrdiff_t>(drop));
}

void DataPathChecker::commit(FileId file, const RecordId& record, uint64_t sequence, const Extent& extent,
                             TimeNs time_ns, bool compaction) {
  auto [known, inserted] = records_.try_emplace(record, Known{extent, sequence});
  if (!inserted && known->second.sequence == sequence) return;  // reported again after a failover
  known->second = Known{extent, sequence};
  if (compaction) compactions_[file].push_back(Compaction{sequence, extent});
  if (extent.length == 0) return;
  FileMap& map = files_[file];
  split(map, extent.offset);
  split(map, extent.end());
  const Entry entry{sequence, time_ns, record};
  uint64_t cursor = extent.offset;
  auto it = map.lower_bound(extent.offset);
  while (cursor < extent.end()) {
    if (it == map.end() || it->first > cursor) {  // a gap never written before
      const uint64_t gap_end = it == map.end() ? extent.end() : std::min(extent.end(), it->first);
      it = map.emplace_hint(it, cursor, Segment{gap_end, {entry}});
      cursor = gap_end;
      ++it;
      continue;
    }
    std::vector<Entry>& h = it->second.history;
    auto pos = std::upper_bound(h.begin(), h.end(), sequence,
                                [](uint64_t s, const Entry& e) { return s < e.sequence; });
    h.insert(pos, entry);
    prune(h, time_ns);
    cursor = it->second.end;
    ++it;
  }
}

void DataPathChecker::read_violation(const std::string& what) {
  if (read_violations_++ == 0) first_read_violation_ = what;
}

void DataPathChecker::read_piece(FileId file, uint64_t offset, uint64_t length, const RecordId& record, bool hole,
                                 TimeNs start_ns, TimeNs end_ns) {
  ++pieces_checked_;
  const std::string where = "file " + std::to_string(file) + " bytes [" + std::to_string(offset) + ", " +
                            std::to_string(offset + length) + ") read over [" + std::to_string(start_ns) + ", " +
                            std::to_string(end_ns) + "] ns";
  FileMap& map = files_[file];
  uint64_t cursor = offset;
  auto it = map.upper_bound(offset);
  if (it != map.begin()) --it;
  while (cursor < offset + length) {
    if (it == map.end() || it->first > cursor) {  // never written: only a hole is right
      if (!hole) {
        read_violation(where + ": returned record " + record.to_string() + " where nothing was ever written");
        return;
      }
      if (it == map.end()) break;
      cursor = it->first;
      continue;
    }
    if (it->second.end <= cursor) {
      ++it;
      continue;
    }
    const std::vector<Entry>& h = it->second.history;
    // A record is right if it was the latest here during part of the read: it was committed by the
    // read's end, and the next record here was committed after the read began.
    if (hole) {
      if (!h.empty() && h.front().time_ns <= start_ns) {
        read_violation(where + ": returned a hole where record " + h.front().record.to_string() + " was committed");
        return;
      }
    } else {
      auto found = std::find_if(h.begin(), h.end(), [&](const Entry& e) { return e.record == record; });
      if (found == h.end()) {
        auto known = records_.find(record);
        const bool covers = known != records_.end() && known->second.extent.offset <= cursor &&
                            cursor < known->second.extent.end();
        if (covers) {
          ++pieces_unverifiable_;  // its history here was pruned: too old to judge
        } else {
          read_violation(where + ": returned record " + record.to_string() + " which never covered byte " +
                         std::to_string(cursor));
        }
        return;
      }
      const auto next = found + 1;
      if (found->time_ns > end_ns || (next != h.end() && next->time_ns <= start_ns)) {
        read_violation(where + ": returned record " + record.to_string() + " (sequence " +
                       std::to_string(found->sequence) + ") but record " +
                       (next != h.end() ? next->record.to_string() + " (sequence " + std::to_string(next->sequence) + ")"
                                        : std::string("?")) +
                       " was committed before the read began");
        return;
      }
    }
    cursor = it->second.end;
    ++it;
  }
}

void DataPathChecker::compaction_source(FileId file, const RecordId& compaction, uint64_t offset, uint64_t length,
                                        const RecordId& source, bool hole) {
  auto known = records_.find(compaction);
  if (known == records_.end() || length == 0) return;
  const uint64_t sequence = known->second.sequence;
  FileMap& map = files_[file];
  auto it = map.upper_bound(offset);
  if (it != map.begin()) --it;
  for (; it != map.end() && it->first < offset + length; ++it) {
    if (it->second.end <= offset) continue;
    const std::vector<Entry>& h = it->second.history;
    // The newest record older than the compaction is what the compaction must have copied here.
    const Entry* latest_before = nullptr;
    for (const Entry& e : h) {
      if (e.sequence < sequence) latest_before = &e;
    }
    if (latest_before == nullptr) {
      // Nothing older is known here: never written (a hole is right) or pruned (cannot judge).
      if (!hole) ++pieces_unverifiable_;
      continue;
    }
    if (hole || latest_before->record != source) {
      read_violation("file " + std::to_string(file) + ": compaction " + compaction.to_string() + " copied " +
                     (hole ? std::string("a hole") : "record " + source.to_string()) + " at byte " +
                     std::to_string(std::max(offset, it->first)) + " where record " + latest_before->record.to_string() +
                     " (sequence " + std::to_string(latest_before->sequence) + ") was newer: a lost update");
      return;
    }
  }
}

void DataPathChecker::collected(FileId file, const RecordId& record, TimeNs time_ns) {
  ++collections_checked_;
  auto known = records_.find(record);
  if (known == records_.end()) return;
  const Extent extent = known->second.extent;
  for (const Compaction& c : compactions_[file]) {
    if (c.sequence > known->second.sequence && c.extent.offset <= extent.offset && extent.end() <= c.extent.end()) return;
  }
  if (gc_violations_++ == 0) {
    first_gc_violation_ = "file " + std::to_string(file) + ": record " + record.to_string() + " collected at " +
                          std::to_string(time_ns) + " ns while still current (no later compaction covers it)";
  }
}

}  // namespace pbfs
