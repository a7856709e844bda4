// The lock server (protocols/lock_service/lock_server.h). Epochs are built from the server's clock in
// milliseconds (and above every epoch it knows), so they rise across takeovers without a disk: a new
// primary issues nothing for t_max + ε, longer than any clock difference the model allows.
#include "protocols/lock_service/lock_server.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace pbfs::lock_service {
namespace {

constexpr uint64_t kTagTick = 0xC5ull << 56;

}  // namespace

LockServer::LockServer(Runtime& runtime, LockServerConfig config)
    : runtime_(runtime), config_(std::move(config)), self_(runtime.node_id()) {
  if (config_.servers.empty() || config_.servers.size() > 2 ||
      std::find(config_.servers.begin(), config_.servers.end(), self_) == config_.servers.end()) {
    std::fprintf(stderr, "pbfs lock server: node %u is not one of 1-2 configured servers\n", self_);
    std::abort();
  }
  for (NodeId s : config_.servers) {
    if (s != self_) peer_ = s;
  }
}

void LockServer::start() {
  const TimeNs now = runtime_.local_now_ns();
  peer_heard_local_ns_ = now;
  if (config_.silent_at_start) {
    mode_ = Mode::kSilent;
    fresh_after_local_ns_ = now + config_.lease_ns + config_.epsilon_ns;
  } else {
    mode_ = self_ == config_.servers[0] ? Mode::kPrimary : Mode::kBackup;
  }
  tick_timer_ = runtime_.set_timer(config_.heartbeat_ns, kTagTick);
}

void LockServer::on_message(const Envelope& from, const Message& message) {
  runtime_.charge_cpu(config_.cpu_per_message_ns);
  if (mode_ == Mode::kSilent) {
    runtime_.count("lock.server_silent");
    return;
  }
  switch (message.type()) {
    case LockRequest::kType: return handle_request(from, static_cast<const LockRequest&>(message));
    case Replicate::kType: return handle_replicate(from, static_cast<const Replicate&>(message));
    case ReplicateAck::kType: {
      auto it = pending_.find(static_cast<const ReplicateAck&>(message).sequence);
      if (it == pending_.end()) return;
      runtime_.send(it->second.to, it->second.port, it->second.reply);
      pending_.erase(it);
      return;
    }
    case Heartbeat::kType: return handle_heartbeat(from, static_cast<const Heartbeat&>(message));
    default: runtime_.count("lock.unexpected_message");
  }
}

void LockServer::handle_request(const Envelope& from, const LockRequest& m) {
  auto reply = std::make_shared<LockReply>();
  reply->resource = m.resource;
  reply->request_id = m.request_id;
  if (mode_ != Mode::kPrimary) {
    reply->status = ReplyStatus::kNotPrimary;
    runtime_.send(from.from, from.from_port, std::move(reply));
    return;
  }
  const TimeNs now = runtime_.local_now_ns();
  auto it = grants_.find(m.resource);
  const bool valid = it != grants_.end() && now < it->second.expiry_local_ns;
  const bool mine = valid && it->second.holder == from.from;
  switch (m.kind) {
    case RequestKind::kAcquire:
      if (valid && !mine) break;
      return grant(from, m, std::move(reply), now);
    case RequestKind::kRenew:
      if (mine && it->second.epoch == m.epoch) return grant(from, m, std::move(reply), now);
      reply->status = ReplyStatus::kLost;
      runtime_.send(from.from, from.from_port, std::move(reply));
      return;
    case RequestKind::kRelease:
      reply->status = ReplyStatus::kReleased;
      if (mine && it->second.epoch == m.epoch) {
        grants_.erase(it);
        return commit_change(m.resource, from, std::move(reply));
      }
      runtime_.send(from.from, from.from_port, std::move(reply));
      return;
    case RequestKind::kLookup:
      break;
  }
  reply->status = valid ? ReplyStatus::kHeldByOther : ReplyStatus::kFree;
  if (valid) {
    reply->holder = it->second.holder;
    reply->epoch = it->second.epoch;
    reply->remaining_ns = it->second.expiry_local_ns - now;
  }
  runtime_.send(from.from, from.from_port, std::move(reply));
}

// A new tenure, or an extension of the requester's own.
void LockServer::grant(const Envelope& from, const LockRequest& m, std::shared_ptr<LockReply> reply, TimeNs now) {
  Grant& g = grants_[m.resource];
  // Only a renewal extends; an acquire always starts a new tenure, with a new epoch.
  const bool extension = m.kind == RequestKind::kRenew && g.holder == from.from && now < g.expiry_local_ns;
  if (!extension && now < fresh_after_local_ns_) {
    // Just took over or restarted: a lease granted before may still be out there.
    runtime_.count("lock.fresh_tenure_deferred");
    grants_.erase(m.resource);
    reply->status = ReplyStatus::kHeldByOther;
    reply->remaining_ns = fresh_after_local_ns_ - now;
    runtime_.send(from.from, from.from_port, std::move(reply));
    return;
  }
  if (!extension) {
    uint64_t& epoch = epochs_[m.resource];
    epoch = std::max<uint64_t>(epoch + 1, static_cast<uint64_t>(now / kMillisecond));
    g.holder = from.from;
    g.epoch = epoch;
  }
  g.expiry_local_ns = now + config_.lease_ns + config_.epsilon_ns;
  reply->status = ReplyStatus::kGranted;
  reply->holder = g.holder;
  reply->epoch = g.epoch;
  reply->remaining_ns = config_.lease_ns;
  commit_change(m.resource, from, std::move(reply));
}

// Replicates the resource's new state to a live backup and answers once it has it.
void LockServer::commit_change(ResourceId resource, const Envelope& to, std::shared_ptr<LockReply> reply) {
  const TimeNs now = runtime_.local_now_ns();
  if (!backup_alive(now)) {
    runtime_.send(to.from, to.from_port, std::move(reply));
    return;
  }
  auto m = std::make_shared<Replicate>();
  m->sequence = next_sequence_++;
  m->resource = resource;
  auto it = grants_.find(resource);
  if (it != grants_.end()) {
    m->holder = it->second.holder;
    m->epoch = it->second.epoch;
    m->remaining_ns = it->second.expiry_local_ns - now;
  } else {
    m->epoch = epochs_[resource];
  }
  pending_[m->sequence] = PendingReply{to.from, to.from_port, std::move(reply)};
  runtime_.send(peer_, kPortLockServer, std::move(m));
}

void LockServer::handle_replicate(const Envelope& from, const Replicate& m) {
  if (mode_ != Mode::kBackup) {
    runtime_.count("lock.replicate_to_non_backup");
    return;
  }
  const TimeNs now = runtime_.local_now_ns();
  peer_heard_local_ns_ = now;
  epochs_[m.resource] = std::max(epochs_[m.resource], m.epoch);
  if (m.holder == kNoNode) {
    grants_.erase(m.resource);
  } else {
    // The backup's view ends no earlier than the primary's: it adds its own ε.
    grants_[m.resource] = Grant{m.holder, m.epoch, now + m.remaining_ns + config_.epsilon_ns};
  }
  auto ack = std::make_shared<ReplicateAck>();
  ack->sequence = m.sequence;
  runtime_.send(from.from, from.from_port, std::move(ack));
}

void LockServer::handle_heartbeat(const Envelope& from, const Heartbeat& m) {
  if (from.from != peer_) return;
  peer_heard_local_ns_ = runtime_.local_now_ns();
  peer_is_primary_ = m.primary;
  if (mode_ == Mode::kPrimary && m.primary) {
    // Two primaries (after a partition healed): the higher node id steps down. Clients it granted
    // leases to may still believe in them; that is the model's known failure mode.
    runtime_.count("lock.two_primaries");
    if (self_ > peer_) {
      mode_ = Mode::kBackup;
      grants_.clear();
      flush_pending();
    }
  }
}

void LockServer::flush_pending() {
  for (auto& [sequence, p] : pending_) runtime_.send(p.to, p.port, p.reply);
  pending_.clear();
}

void LockServer::on_timer(TimerId id, uint64_t tag) {
  if (tag != kTagTick || id != tick_timer_) return;
  tick_timer_ = runtime_.set_timer(config_.heartbeat_ns, kTagTick);
  tick();
}

void LockServer::tick() {
  const TimeNs now = runtime_.local_now_ns();
  if (mode_ == Mode::kSilent) {
    if (now < fresh_after_local_ns_) return;
    mode_ = has_peer() ? Mode::kBackup : Mode::kPrimary;
    peer_heard_local_ns_ = now;
  }
  if (mode_ == Mode::kBackup && now - peer_heard_local_ns_ >= config_.takeover_ns) {
    runtime_.count("lock.takeover");
    mode_ = Mode::kPrimary;
    fresh_after_local_ns_ = now + config_.lease_ns + config_.epsilon_ns;
  }
  if (mode_ == Mode::kPrimary && !backup_alive(now)) flush_pending();  // the backup is gone
  if (has_peer()) {
    auto hb = std::make_shared<Heartbeat>();
    hb->primary = mode_ == Mode::kPrimary;
    runtime_.send(peer_, kPortLockServer, std::move(hb));
  }
}

}  // namespace pbfs::lock_service
