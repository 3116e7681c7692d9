#include "broker/producer_registry.h"

#include <algorithm>
#include <string_view>

#include <glog/logging.h>

#include "common/limits.h"

namespace halfmq::broker {

ProducerRegistry::Conn& ProducerRegistry::ConnFor(const std::shared_ptr<Connection>& conn,
                                                  uint32_t advertised_max) {
  Conn& c = conns_[conn->id()];
  if (c.connection.expired()) {
    c.connection = conn;
    c.max = options_.max_checks_per_connection;
  }
  if (advertised_max > 0) c.max = std::min(c.max, advertised_max);
  return c;
}

void ProducerRegistry::AddMember(uint64_t connection_id, Conn* c, const ProducerGroup& group) {
  c->groups.insert(group);
  Group& g = groups_[group];
  if (g.members.empty() && g.refilled_ms == 0) g.tokens = options_.check_rate_per_group;
  g.position.emplace(connection_id, g.members.size());
  g.members.push_back(connection_id);
}

ProducerRegistry::Join ProducerRegistry::Register(const std::shared_ptr<Connection>& conn,
                                                  const ProducerGroup& group,
                                                  uint32_t advertised_max) {
  bool log_refusal = false;
  {
    MutexLock lock(&mu_);
    Conn& c = ConnFor(conn, advertised_max);
    if (c.groups.count(group) > 0) return Join::kAlreadyMember;
    if (c.groups.size() < kMaxProducerGroupsPerConnection) {
      AddMember(conn->id(), &c, group);
      return Join::kJoined;
    }
    log_refusal = !c.refusal_logged;
    c.refusal_logged = true;
  }
  if (log_refusal) {
    LOG(WARNING) << "connection " << conn->id() << " from " << conn->peer() << " already serves "
                 << kMaxProducerGroupsPerConnection << " producer groups; it is not sent checks of"
                 << " group '" << group << "' (nor of further groups; logged once per connection)";
  }
  return Join::kOverLimit;
}

Status ProducerRegistry::RegisterAll(const std::shared_ptr<Connection>& conn,
                                     const std::vector<ProducerGroup>& groups,
                                     uint32_t advertised_max) {
  if (groups.empty()) return Status::Ok();
  MutexLock lock(&mu_);
  auto existing = conns_.find(conn->id());
  size_t joined = existing == conns_.end() ? 0 : existing->second.groups.size();
  std::unordered_set<std::string_view> fresh;
  for (const ProducerGroup& group : groups) {
    if (existing != conns_.end() && existing->second.groups.count(group) > 0) continue;
    if (fresh.insert(group.value()).second && joined + fresh.size() > kMaxProducerGroupsPerConnection) {
      return Status::InvalidArgument("producer_groups: this connection would serve more than " +
                                     std::to_string(kMaxProducerGroupsPerConnection) +
                                     " producer groups (it serves " + std::to_string(joined) +
                                     " already)");
    }
  }
  Conn& c = ConnFor(conn, advertised_max);
  for (const ProducerGroup& group : groups) {
    if (c.groups.count(group) == 0) AddMember(conn->id(), &c, group);
  }
  return Status::Ok();
}

void ProducerRegistry::Unregister(uint64_t connection_id) {
  MutexLock lock(&mu_);
  auto it = conns_.find(connection_id);
  if (it == conns_.end()) return;
  for (const auto& name : it->second.groups) {
    auto git = groups_.find(name);
    if (git == groups_.end()) continue;
    Group& g = git->second;
    auto pos = g.position.find(connection_id);
    if (pos == g.position.end()) continue;
    // Swap-remove: the last member takes the leaver's place.
    size_t index = pos->second;
    g.position.erase(pos);
    if (index + 1 != g.members.size()) {
      g.members[index] = g.members.back();
      g.position[g.members[index]] = index;
    }
    g.members.pop_back();
    if (g.members.empty()) groups_.erase(git);
  }
  conns_.erase(it);
}

void ProducerRegistry::Refill(Group* g, int64_t now_ms) {
  if (g->refilled_ms == 0) g->refilled_ms = now_ms;
  double elapsed_s = static_cast<double>(std::max<int64_t>(0, now_ms - g->refilled_ms)) / 1000.0;
  double burst = std::max(1.0, options_.check_rate_per_group);
  g->tokens = std::min(burst, g->tokens + elapsed_s * options_.check_rate_per_group);
  g->refilled_ms = now_ms;
}

ProducerRegistry::Pick ProducerRegistry::PickConnection(const ProducerGroup& group, int64_t now_ms,
                                                        std::shared_ptr<Connection>* out) {
  MutexLock lock(&mu_);
  auto git = groups_.find(group);
  if (git == groups_.end() || git->second.members.empty()) return Pick::kNoProducer;
  Group& g = git->second;
  Refill(&g, now_ms);
  if (g.tokens < 1.0) return Pick::kRateLimited;
  // Two passes: healthy connections first, then ones cooling down after a
  // failure (better a slow producer than none).
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < g.members.size(); ++i) {
      size_t idx = (g.next + i) % g.members.size();
      auto cit = conns_.find(g.members[idx]);
      if (cit == conns_.end()) continue;
      Conn& c = cit->second;
      if (c.outstanding >= c.max) continue;
      if (pass == 0 && c.failing_until_ms > now_ms) continue;
      auto conn = c.connection.lock();
      if (!conn) continue;
      ++c.outstanding;
      g.tokens -= 1.0;
      g.next = idx + 1;
      *out = std::move(conn);
      return Pick::kPicked;
    }
  }
  return Pick::kBusy;
}

void ProducerRegistry::Release(uint64_t connection_id, bool failed, int64_t now_ms) {
  MutexLock lock(&mu_);
  auto it = conns_.find(connection_id);
  if (it == conns_.end()) return;
  if (it->second.outstanding > 0) --it->second.outstanding;
  if (failed) it->second.failing_until_ms = now_ms + options_.failing_cooldown_ms;
}

void ProducerRegistry::MarkFailing(uint64_t connection_id, int64_t now_ms) {
  MutexLock lock(&mu_);
  auto it = conns_.find(connection_id);
  if (it != conns_.end()) it->second.failing_until_ms = now_ms + options_.failing_cooldown_ms;
}

std::vector<ProducerGroup> ProducerRegistry::Groups() const {
  MutexLock lock(&mu_);
  std::vector<ProducerGroup> out;
  for (const auto& [name, g] : groups_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

bool ProducerRegistry::HasProducer(const ProducerGroup& group) const {
  MutexLock lock(&mu_);
  auto it = groups_.find(group);
  return it != groups_.end() && !it->second.members.empty();
}

size_t ProducerRegistry::Capacity(const ProducerGroup& group, int64_t now_ms) {
  MutexLock lock(&mu_);
  auto git = groups_.find(group);
  if (git == groups_.end()) return 0;
  Refill(&git->second, now_ms);
  size_t slots = 0;
  for (uint64_t id : git->second.members) {
    auto it = conns_.find(id);
    if (it != conns_.end() && it->second.outstanding < it->second.max) {
      slots += it->second.max - it->second.outstanding;
    }
  }
  return std::min(slots, static_cast<size_t>(git->second.tokens));
}

uint32_t ProducerRegistry::Outstanding(uint64_t connection_id) const {
  MutexLock lock(&mu_);
  auto it = conns_.find(connection_id);
  return it == conns_.end() ? 0 : it->second.outstanding;
}

size_t ProducerRegistry::GroupCount(uint64_t connection_id) const {
  MutexLock lock(&mu_);
  auto it = conns_.find(connection_id);
  return it == conns_.end() ? 0 : it->second.groups.size();
}

}  // namespace halfmq::broker
