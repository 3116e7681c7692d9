#include "broker/producer_registry.h"

#include <algorithm>

namespace halfmq::broker {

void ProducerRegistry::Register(const std::shared_ptr<Connection>& conn, const std::string& group,
                                uint32_t advertised_max) {
  MutexLock lock(&mu_);
  Conn& c = conns_[conn->id()];
  if (c.connection.expired()) {
    c.connection = conn;
    c.max = options_.max_checks_per_connection;
  }
  if (advertised_max > 0) c.max = std::min(c.max, advertised_max);
  if (std::find(c.groups.begin(), c.groups.end(), group) != c.groups.end()) return;
  c.groups.push_back(group);
  Group& g = groups_[group];
  if (g.members.empty() && g.refilled_ms == 0) g.tokens = options_.check_rate_per_group;
  g.members.push_back(conn->id());
}

void ProducerRegistry::Unregister(uint64_t connection_id) {
  MutexLock lock(&mu_);
  auto it = conns_.find(connection_id);
  if (it == conns_.end()) return;
  for (const auto& name : it->second.groups) {
    auto g = groups_.find(name);
    if (g == groups_.end()) continue;
    std::erase(g->second.members, connection_id);
    if (g->second.members.empty()) groups_.erase(g);
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

ProducerRegistry::Pick ProducerRegistry::PickConnection(const std::string& group, int64_t now_ms,
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

std::vector<std::string> ProducerRegistry::Groups() const {
  MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [name, g] : groups_) out.push_back(name);
  return out;
}

bool ProducerRegistry::HasProducer(const std::string& group) const {
  MutexLock lock(&mu_);
  auto it = groups_.find(group);
  return it != groups_.end() && !it->second.members.empty();
}

size_t ProducerRegistry::Capacity(const std::string& group, int64_t now_ms) {
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

}  // namespace halfmq::broker
