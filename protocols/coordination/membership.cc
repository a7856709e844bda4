// Membership and configuration over the coordination client (membership.h). Each kind of work — the
// members directory, this node's entry, the member list, the config — is a flag: set when it must be
// (re)done, cleared when its request goes out; pump() issues what is needed, at most one request of
// each kind at a time, and a request that got no answer is retried after retry_ns.
#include "protocols/coordination/membership.h"

#include <cmath>

namespace pbfs::coordination {
namespace {

constexpr uint64_t kTagRetry = 0xD2ull << 56;
constexpr uint64_t kTagMarkerMask = 0xFFull << 56;

// Member names are node ids in decimal, without leading zeros.
std::optional<NodeId> parse_member(const std::string& name, uint32_t node_count) {
  if (name.empty() || name.size() > 10 || (name.size() > 1 && name[0] == '0')) return std::nullopt;
  uint64_t id = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return std::nullopt;
    id = id * 10 + static_cast<uint64_t>(c - '0');
  }
  if (id >= node_count) return std::nullopt;
  return static_cast<NodeId>(id);
}

}  // namespace

Bytes encode_member_info(const MemberInfo& info) {
  Bytes out;
  WireWriter w(out);
  w.u32(info.rack);
  w.u32(info.site);
  w.f64(info.weight);
  return out;
}

std::optional<MemberInfo> decode_member_info(const Bytes& data) {
  WireReader in(data);
  MemberInfo info;
  if (!in.u32(info.rack) || !in.u32(info.site) || !in.f64(info.weight) || !in.at_end()) return std::nullopt;
  if (!std::isfinite(info.weight) || info.weight <= 0) return std::nullopt;
  return info;
}

const TableSchema& membership_schema() {
  static const TableSchema schema{
      "membership_changes",
      "one row per member joining or leaving the cluster, as one observing node saw it",
      sizeof(MembershipRow),
      {PBFS_FIELD(MembershipRow, observer, "node whose view changed"),
       PBFS_FIELD(MembershipRow, member, "node that joined or left"),
       PBFS_FIELD(MembershipRow, joined, "1 joined, 0 left"),
       PBFS_FIELD(MembershipRow, alive_count, "members alive in the observer's view after the change"),
       PBFS_FIELD(MembershipRow, time_ns, "trace-clock time the observer learnt it")}};
  return schema;
}

std::vector<PlacementNode> with_alive(std::vector<PlacementNode> nodes, const std::vector<bool>& alive) {
  for (PlacementNode& n : nodes) n.alive = n.id < alive.size() && alive[n.id];
  return nodes;
}

Membership::Membership(Runtime& runtime, MembershipConfig config)
    : runtime_(runtime), config_(std::move(config)), client_(runtime, config_.client) {}

bool Membership::owns_tag(uint64_t tag) {
  return CoordinationClient::owns_tag(tag) || (tag & kTagMarkerMask) == kTagRetry;
}

std::string Membership::member_path(NodeId node) const {
  return child_path(config_.members_path, std::to_string(node));
}

template <typename F>
auto Membership::current(F f) {
  return [this, generation = session_generation_, f = std::move(f)](auto&&... args) {
    if (generation == session_generation_) f(std::forward<decltype(args)>(args)...);
  };
}

void Membership::start() {
  if (config_.trace) table_ = runtime_.trace_table(membership_schema());
  alive_.assign(config_.node_count, false);
  client_.set_session_callback([this](SessionEvent event) { on_session(event); });
  client_.connect();
}

void Membership::on_message(const Envelope& from, const Message& message) {
  if (!owns_message(message.type())) {
    runtime_.count("membership.unexpected_message");
    return;
  }
  client_.on_message(from, message);
}

void Membership::on_timer(TimerId id, uint64_t tag) {
  if (CoordinationClient::owns_tag(tag)) {
    client_.on_timer(id, tag);
  } else if ((tag & kTagMarkerMask) == kTagRetry && id == retry_timer_) {
    retry_timer_ = 0;
    pump();
  }
}

void Membership::on_session(SessionEvent event) {
  switch (event) {
    case SessionEvent::kConnected:  // a new session: everything is to be done again
      ++session_generation_;
      busy_root_ = busy_register_ = busy_members_ = busy_config_ = false;
      need_root_ = true;
      need_register_ = config_.register_self;
      need_members_ = true;
      need_config_ = config_.watch_config;
      registered_ = false;
      pump();
      break;
    case SessionEvent::kReconnected:
      pump();
      break;
    case SessionEvent::kExpired:
      // Our entry is gone from the server; the view we hold may be stale until the new session reads it.
      ++session_generation_;
      registered_ = false;
      runtime_.count("membership.session_expired");
      if (!leaving_) client_.connect();
      break;
    case SessionEvent::kClosed:
      ++session_generation_;
      registered_ = false;
      break;
    case SessionEvent::kDisconnected:
      break;
  }
}

void Membership::pump() {
  if (!client_.has_session() || leaving_) return;
  if (need_root_) {
    if (!busy_root_) ensure_root();
    return;  // the rest needs the directory
  }
  if (need_register_ && !busy_register_) register_self();
  if (need_members_ && !busy_members_) read_members();
  if (need_config_ && !busy_config_) read_config();
}

void Membership::retry_later() {
  if (retry_timer_ == 0) retry_timer_ = runtime_.set_timer(config_.retry_ns, kTagRetry);
}

void Membership::ensure_root() {
  need_root_ = false;
  busy_root_ = true;
  client_.create(config_.members_path, {}, 0, current([this](CoordCode code, const std::string&) {
    busy_root_ = false;
    if (code != CoordCode::kOk && code != CoordCode::kNodeExists) {
      need_root_ = true;
      retry_later();
      return;
    }
    pump();
  }));
}

void Membership::register_self() {
  need_register_ = false;
  busy_register_ = true;
  client_.create(member_path(runtime_.node_id()), encode_member_info(config_.self), kCreateEphemeral,
                 current([this](CoordCode code, const std::string&) {
                   busy_register_ = false;
                   if (code == CoordCode::kOk) {
                     registered_ = true;
                   } else if (code == CoordCode::kNodeExists) {
                     check_own_entry();
                   } else if (code == CoordCode::kNoNode) {
                     need_root_ = need_register_ = true;
                     pump();
                   } else {
                     need_register_ = true;
                     retry_later();
                   }
                 }));
}

// The entry exists: ours (the answer to our create was lost and a retry found it) or an older
// session's — this node's previous life, not yet expired. Then wait for it to go and register again.
void Membership::check_own_entry() {
  busy_register_ = true;
  auto on_change = current([this](const WatchedEvent& event) {
    if (event.type != EventType::kNodeDeleted) return;
    registered_ = false;
    need_register_ = true;
    pump();
  });
  client_.exists(member_path(runtime_.node_id()), on_change, current([this](CoordCode code, const Stat& stat) {
    busy_register_ = false;
    if (code == CoordCode::kOk && stat.ephemeral_owner == client_.session_id()) {
      registered_ = true;
    } else if (code == CoordCode::kOk) {
      runtime_.count("membership.waiting_for_old_entry");
    } else if (code == CoordCode::kNoNode) {
      need_register_ = true;
      pump();
    } else {
      need_register_ = true;
      retry_later();
    }
  }));
}

void Membership::read_members() {
  need_members_ = false;
  busy_members_ = true;
  auto on_change = current([this](const WatchedEvent&) {
    need_members_ = true;
    pump();
  });
  client_.get_children(config_.members_path, on_change,
                       current([this](CoordCode code, const std::vector<std::string>& names, const Stat&) {
                         busy_members_ = false;
                         if (code == CoordCode::kOk) {
                           update_view(names);
                         } else if (code == CoordCode::kNoNode) {
                           need_root_ = need_members_ = true;
                         } else {
                           need_members_ = true;
                           retry_later();
                           return;
                         }
                         pump();
                       }));
}

void Membership::update_view(const std::vector<std::string>& names) {
  std::vector<bool> next(config_.node_count, false);
  for (const std::string& name : names) {
    std::optional<NodeId> id = parse_member(name, config_.node_count);
    if (id) {
      next[*id] = true;
    } else {
      runtime_.count("membership.unknown_member_name");
    }
  }
  MembershipChange change;
  uint32_t alive_count = 0;
  for (NodeId id = 0; id < config_.node_count; ++id) {
    if (next[id] && !alive_[id]) change.joined.push_back(id);
    if (!next[id] && alive_[id]) change.left.push_back(id);
    alive_count += next[id] ? 1 : 0;
  }
  const bool first = !view_known_;
  view_known_ = true;
  if (!first && change.joined.empty() && change.left.empty()) return;
  alive_ = std::move(next);
  ++view_changes_;
  for (const auto& [ids, joined] : {std::pair{&change.left, false}, std::pair{&change.joined, true}}) {
    for (NodeId id : *ids) {
      if (!joined) members_.erase(id);
      if (config_.trace) {
        MembershipRow row{runtime_.node_id(), id, static_cast<uint8_t>(joined ? 1 : 0), alive_count,
                          runtime_.trace_now_ns()};
        runtime_.trace(table_, &row);
      }
    }
  }
  if (config_.read_member_info) {
    for (NodeId id : change.joined) read_member_info(id);
  }
  if (alive_listener_) alive_listener_(alive_, change);
}

void Membership::read_member_info(NodeId node) {
  client_.get(member_path(node), {}, current([this, node](CoordCode code, const Bytes& data, const Stat&) {
    std::optional<MemberInfo> info = code == CoordCode::kOk ? decode_member_info(data) : std::nullopt;
    if (!info) {
      runtime_.count("membership.member_info_unread");
      return;
    }
    if (node < alive_.size() && alive_[node]) members_[node] = *info;
  }));
}

void Membership::read_config() {
  need_config_ = false;
  busy_config_ = true;
  auto on_change = current([this](const WatchedEvent&) {
    need_config_ = true;
    pump();
  });
  auto on_read = [this, on_change](CoordCode code, const Bytes& data, const Stat&) {
    if (code == CoordCode::kOk) {
      busy_config_ = false;
      if (config_listener_) config_listener_(data);
      pump();
      return;
    }
    if (code != CoordCode::kNoNode) {
      busy_config_ = false;
      need_config_ = true;
      retry_later();
      return;
    }
    // No config yet: watch for its creation.
    client_.exists(config_.config_path, on_change, current([this](CoordCode code, const Stat&) {
      busy_config_ = false;
      if (code == CoordCode::kNoNode) return;
      need_config_ = true;  // created meanwhile (kOk), or no answer
      if (code == CoordCode::kOk) {
        pump();
      } else {
        retry_later();
      }
    }));
  };
  client_.get(config_.config_path, on_change, current(on_read));
}

void Membership::write_config(Bytes config, DoneCallback done) {
  write_config_attempt(std::make_shared<Bytes>(std::move(config)), std::move(done), 3);
}

void Membership::write_config_attempt(std::shared_ptr<Bytes> config, DoneCallback done, uint32_t attempts_left) {
  auto created = [this, config, done, attempts_left](CoordCode code, const std::string&) {
    if (code == CoordCode::kNodeExists && attempts_left > 1) {
      write_config_attempt(config, done, attempts_left - 1);  // created by someone else meanwhile: set it
      return;
    }
    if (done) done(code);
  };
  client_.set(config_.config_path, *config, kAnyVersion, [this, config, done, created](CoordCode code, const Stat&) {
    if (code != CoordCode::kNoNode) {
      if (done) done(code);
      return;
    }
    client_.create(config_.config_path, *config, 0, created);
  });
}

void Membership::leave(DoneCallback done) {
  leaving_ = true;
  registered_ = false;
  client_.close(std::move(done));
}

}  // namespace pbfs::coordination
