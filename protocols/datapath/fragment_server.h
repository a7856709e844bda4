// The fragment server (port kPortFragmentServer): stores the fragments of write records on its node's
// disk and serves them back. A store is written and fsynced before it is acknowledged; a whole-fragment
// fetch is CRC-checked before it is sent, and a corrupt fragment is answered with kCorrupt and reported
// to the file's catalog group (FragmentCorrupt); a periodic scrub reads every fragment to find rot before
// readers do, and reads the durable manifest back to find rot in it before a restart would (an entry
// that no longer says what the index holds is appended again); RebuildFragment recreates a lost
// fragment here from any k others.
//
// Orphan collection: a fragment whose record was never committed (the writer crashed or gave up) or was
// collected while its DeleteFragments got lost would stay forever. Every orphan_grace a pass picks
// the fragments not confirmed for orphan_grace (or confirmed longer than orphan_recheck ago) and asks
// the catalog primary of their files' shard about their records (RecordStatus, batched per shard, with
// timeouts, bounded retries and redirects). The primary abandons records that are not live before it
// answers, so a record reported abandoned can never commit later: its fragments are deleted here. So is
// a fragment reported stale (its record lives, but its map has moved the fragment elsewhere). A record
// reported current is remembered as confirmed, in memory only: a restart asks about everything again
// after a grace period, which costs one question per shard and batch instead of a manifest entry per
// fragment.
//
// Disk layout (log-structured): fragments are appended to log files "frag/log/<n>" (fragment header then
// body, real or synthetic), one log open for appends at a time and a new one once it reaches
// log_file_bytes. "frag/manifest" is an append-only log of where each fragment lies (log, offset, size),
// and of deletions (one CRC-protected entry each), replayed at start so the server knows
// what it holds after a restart. Stores are made durable in batches (group commit), each one disk chain:
// the batch's fragments are appended to the open log, the logs written since the last batch are synced,
// then the batch's manifest entries are written and synced, and every store of the batch is
// acknowledged. A restart opens a fresh log, so a torn tail is never appended to.
// A sealed log whose live bytes drop below log_clean_below of its size is cleaned: its live fragments are
// read back (CRC-checked), appended to the open log under new manifest entries, and the log is removed
// once none of its bytes are live.
#pragma once

#include <boost/container/flat_map.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "coding/owned_fifo.h"
#include "coding/pipeline.h"
#include "protocols/datapath/config.h"
#include "protocols/datapath/fragment_table.h"
#include "protocols/datapath/messages.h"
#include "protocols/datapath/operations.h"
#include "protocols/runtime/runtime.h"

namespace pbfs::datapath {

// Where a stored fragment lies: `size` bytes (header + body) at `offset` of log file `log`. Sixteen
// bytes, so an index entry fills one cache line; a store of a fragment of 4 GiB or more is refused.
struct FragmentLocation {
  uint32_t log = 0;
  uint32_t size = 0;
  uint64_t offset = 0;
  bool operator==(const FragmentLocation&) const = default;
};
inline constexpr uint64_t kFragmentBytesMax = 0xffffffffu;

std::string fragment_log_file(uint32_t log);  // "frag/log/<log>"
inline constexpr const char* kFragmentManifestFile = "frag/manifest";
inline constexpr uint64_t kManifestEntryBytes = 44;  // one entry (layout in fragment_server.cc)

// The fragments a manifest's bytes list as stored, and where: what a restart finds (tests and the
// durability checker read a disk's durable manifest with it). Corrupt entries are skipped.
FragmentTable<FragmentLocation> read_manifest(ByteSpan manifest);

struct FragmentServerOptions {
  uint32_t scrub_reads_in_flight = 2;  // a scrub pass reads this many fragments at a time
  uint32_t deferred_max = 4096;        // requests held while the manifest is replayed; more get kUnavailable
  uint32_t clean_reads_in_flight = 4; // the cleaner reads this many live fragments at a time
  uint32_t rebuilds_max = 64;          // concurrent RebuildFragment requests; more get kUnavailable
  uint32_t stores_max = 4096;          // stores in progress; more get kUnavailable (the writer moves on)
  uint32_t fetches_max = 4096;         // fetches in progress; more get kUnavailable (the reader asks another)
  uint32_t orphan_queries_max = 4;     // RecordStatus requests in flight during an orphan pass
  uint32_t orphan_batch_records = 256; // records per RecordStatus (<= RecordStatus::kRecordsMax)
};

class FragmentServer final : public Role {
 public:
  FragmentServer(Runtime& runtime, std::shared_ptr<const DataPathConfig> config, FragmentServerOptions options = {});
  ~FragmentServer() override;

  // Role: start() replays the manifest; requests that arrive meanwhile wait for it.
  void start() override;
  void on_message(const Envelope& from, const Message& message) override;
  void on_timer(TimerId id, uint64_t tag) override;
  void on_disk(const DiskCompletion& done) override;

  // Introspection for tests and checkers.
  bool ready() const { return ready_; }  // the manifest has been replayed
  CatalogDirectory& catalog_directory() { return catalogs_; }  // where it looks shards' groups up
  size_t fragment_count() const { return index_.size(); }
  bool holds(FileId file, const RecordId& record, uint32_t index) const;
  uint64_t scrub_passes() const { return scrub_passes_; }
  uint64_t orphan_passes() const { return orphan_passes_; }  // finished orphan passes
  uint64_t logs_removed() const { return logs_removed_; }
  const FragmentLocation* location(FileId file, const RecordId& record, uint32_t index) const;
  bool confirmed(FileId file, const RecordId& record, uint32_t index) const;  // its record was seen current

  // The index's value per stored fragment (public for the table's benchmark).
  struct Stored {
    FragmentLocation location;
    TimeNs checked_local_ns = 0;  // stored, or last asked about (local clock; reset by a restart)
    bool confirmed = false;       // the catalog said its record is current
    bool scrubbed = false;        // read back whole and sound by the scrub pass under way
  };
  static_assert(sizeof(Stored) == 32, "an index slot (32-byte key, Stored) fills one cache line");

 private:
  using Key = FragmentKey;
  // A log file: its live bytes (fragments the index places in it) and the stores still being written
  // to it; a sealed log with neither is removed.
  struct LogFile {
    uint64_t live_bytes = 0;
    uint32_t stores_in_flight = 0;
  };
  // One RecordStatus in flight: the fragments it asks about (all of files of one shard).
  struct OrphanQuery {
    uint64_t shard = 0;
    std::vector<Key> fragments;     // ascending
    std::vector<FileRecord> records;  // their distinct records, ascending
    NodeId target = kNoNode;
    uint32_t attempts = 0;
    uint32_t redirects = 0;
  };
  // Who waits for a store: a remote writer (StoreFragmentReply), a local rebuild (RebuildFragmentReply)
  // or the cleaner (a fragment moved out of `moved_from`). Kept from its arrival until its batch is
  // durable; its bytes go straight to the batch's disk chain. Each is allocated on its own (see stores_).
  struct Store {
    Key key;
    FragmentLocation location;    // where it is being written
    Envelope reply_to;
    uint64_t request_id = 0;
    uint64_t rebuild = 0;         // non-zero: the rebuild this store finishes
    FragmentLocation moved_from;
    uint64_t manifest_batch = 0;  // the batch that writes it and makes it durable and known
    bool move = false;            // the cleaner copies a live fragment forward
    StatusCode status = StatusCode::kOk;
    std::unique_ptr<Store> next;  // the store that began after this one (stores_)
  };
  static_assert(sizeof(Store) <= 128, "a store fits two cache lines");
  struct Fetch {
    Key key;
    Envelope reply_to;
    uint64_t request_id = 0;
    uint64_t offset = 0;
    bool whole = false;
    enum class For : uint8_t { kReader, kScrub, kCleaner } purpose = For::kReader;
    FragmentLocation location;  // where it was read
  };
  struct Rebuild;
  struct Deferred {
    Envelope from;
    std::shared_ptr<const Message> message;
  };

  void handle(const Envelope& from, const Message& message);
  void on_store(const Envelope& from, const StoreFragment& m);
  void on_fetch(const Envelope& from, const FetchFragment& m);
  void on_delete(const DeleteFragments& m);
  void on_rebuild(const Envelope& from, const RebuildFragment& m);
  void on_rebuild_fetch_reply(const Envelope& from, const FetchFragmentReply& m);
  void defer(const Envelope& from, const Message& message);

  // Log files: space for a new fragment in the open log (a new log once it is full), and the upkeep of
  // sealed ones (removal once dead, cleaning once mostly dead).
  FragmentLocation allocate(uint64_t size);
  void open_log();
  std::string log_name(uint32_t log) const {
    return log_open_ && log == open_log_ ? open_log_name_ : fragment_log_file(log);
  }
  void add_live(const FragmentLocation& location);
  void remove_live(const FragmentLocation& location);
  void tend_log(uint32_t log);

  void begin_store(std::unique_ptr<Store> store, Payload data);  // the store is allocated by the caller
  void finish_stores();
  void finish_store(Store& store);
  // Queues a manifest entry and returns the batch that will carry it.
  uint64_t append_manifest(uint8_t op, const Key& key, const FragmentLocation& location);
  void flush_manifest();
  void batch_done(uint64_t batch, const Status& status);

  void read_fragment(const Key& key, const FragmentLocation& location, Fetch fetch, uint64_t offset, uint64_t length);
  void fetch_disk_done(uint64_t id, const DiskCompletion& done);
  // Checks a whole stored fragment against its key: kOk, kCorrupt (CRC, rot) or kMalformed (header).
  StatusCode check_whole(const Key& key, uint64_t size, const Payload& data) const;
  void report_corrupt(const Key& key);
  void forget_missing(const Key& key);  // the index names bytes the disk no longer has

  void replay_manifest(const DiskCompletion& done);
  void finish_recovery();

  void start_scrub();
  void scrub_next();
  // The scrub's check of the manifest, once the pass has read every fragment: reads the manifest's
  // durable bytes back (catching up with batches that land meanwhile), then appends again every entry
  // that a restart would not find as the index has it (a fragment's only if the pass found it sound).
  uint64_t durable_manifest_bytes() const { return manifest_bytes_ - (manifest_flushing_ ? manifest_flushing_->size() : 0); }
  void read_manifest_for_check();
  void manifest_check_read(const DiskCompletion& done);
  void finish_manifest_check();

  void start_cleaning();
  void clean_next();
  void cleaner_read_done(const Fetch& fetch, StatusCode status, const Payload& data);

  bool drop_fragment(const Key& key);  // forgets the fragment (manifest: with the next batch); false if unknown

  void start_orphan_pass();
  // Adds the fragments due for a question to `due`, marked asked now.
  void take_due(TimeNs now, std::vector<Key>& due);
  // A question that got no usable answer: its fragments are asked about again after another grace.
  void ask_again_later(const OrphanQuery& query);
  void pump_orphan_queries();
  void send_orphan_query(OrphanQuery query);
  void on_orphan_timeout(uint64_t request_id);
  void on_record_status_reply(const Envelope& from, const RecordStatusReply& m);
  void apply_fates(const OrphanQuery& query, const RecordStatusReply& m);

  void rebuild_ask(uint64_t id, Rebuild& rebuild);
  void rebuild_fail_expired(uint64_t id, Rebuild& rebuild);
  void rebuild_decode(uint64_t id, Rebuild& rebuild);
  void rebuild_reply(uint64_t id, StatusCode status);

  void charge_checksum(uint64_t bytes);

  // What a store touches comes first, in the object's first lines: with a thousand servers, one is cold
  // in the cache whenever a store reaches it, and each further line is another miss.
  Runtime& runtime_;
  std::shared_ptr<const DataPathConfig> config_;
  bool skip_fsync_ = false;
  bool ready_ = false;
  bool log_open_ = false;
  bool manifest_flush_in_flight_ = false;
  bool cleaning_ = false;                // the cleaner is at work (on cleaning_log_)
  uint32_t open_log_ = 0;                // appends go here
  std::string open_log_name_;            // its file name: every store and most reads name it
  uint64_t open_log_bytes_ = 0;          // its length so far
  uint64_t manifest_bytes_ = 0;          // where the next batch is appended
  uint64_t manifest_next_batch_ = 1;
  uint64_t manifest_durable_batch_ = 0;  // every batch up to this one is synced
  FragmentTable<Stored> index_;  // stored fragment -> where, and orphan state
  // In the order they began, which is the order they finish. Each store is allocated on its own: the
  // allocator hands back lines just freed elsewhere, still cached, where a queue block of this server's
  // own would be cold since its last store (a thousand servers in a large run).
  OwnedFifo<Store> stores_;
  // Every log holding live bytes or being written, and the open one: a handful, so a sorted vector (a
  // line or two) rather than a tree, since each store looks its log up four times and the cleaner's
  // check after it walks them all.
  boost::container::flat_map<uint32_t, LogFile> logs_;
  std::vector<uint32_t> unsynced_logs_;  // written since the last batch was flushed
  Bytes manifest_pending_;               // entries waiting for the next batch
  std::vector<DiskStep> batch_writes_;   // fragment writes waiting for the next batch
  std::shared_ptr<const Bytes> manifest_flushing_;  // the entries of the batch on the disk
  FragmentServerOptions options_;

  CatalogDirectory catalogs_;
  std::vector<Deferred> deferred_;
  Bytes replay_carry_;             // a partial manifest entry between two replay chunks
  uint64_t replay_offset_ = 0;

  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Fetch> fetches_;
  std::unordered_map<uint64_t, std::unique_ptr<Rebuild>> rebuilds_;
  RecordCodec codec_;

  std::vector<Key> scrub_queue_;
  size_t scrub_position_ = 0;
  uint32_t scrub_in_flight_ = 0;
  bool scrub_running_ = false;
  uint64_t scrub_passes_ = 0;
  struct ManifestCheck {
    uint64_t offset = 0;                     // read back so far
    uint64_t asked = 0;                      // bytes of the read in flight
    Bytes carry;                             // a partial entry between two reads
    FragmentTable<FragmentLocation> listed;  // what a restart would find in those bytes
  };
  std::unique_ptr<ManifestCheck> manifest_check_;  // while the scrub checks the manifest
  bool scrub_manifest_checked_ = false;            // this pass's check began

  // The cleaner works on one sealed log at a time: its live fragments in offset order.
  uint64_t logs_removed_ = 0;
  uint32_t cleaning_log_ = 0;
  std::vector<Key> clean_queue_;
  size_t clean_position_ = 0;
  uint32_t clean_in_flight_ = 0;  // reads and moves

  std::deque<OrphanQuery> orphan_queue_;                 // this pass's queries not yet sent
  std::unordered_map<uint64_t, OrphanQuery> orphan_queries_;  // in flight, by request id
  std::unordered_map<uint64_t, NodeId> leader_hints_;    // by shard: the primary that last answered
  bool orphan_running_ = false;
  uint64_t orphan_passes_ = 0;
};

}  // namespace pbfs::datapath
