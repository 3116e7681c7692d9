#include "broker/subscription.h"

#include <glog/logging.h>

namespace halfmq::broker {

LongPoll::LongPoll(asio::io_context& io, std::function<void()> resume)
    : strand_(asio::make_strand(io)), timer_(strand_), resume_(std::move(resume)) {}

void LongPoll::Arm(asio::steady_timer::time_point at) {
  asio::post(strand_, [self = shared_from_this(), at] {
    if (self->fired_) return;
    self->timer_.expires_at(at);
    self->timer_.async_wait([self](const boost::system::error_code&) { self->Fire(); });
  });
}

void LongPoll::Wake() {
  // Posted after Arm (both go through the strand in order), so the cancel
  // finds the pending wait; if the timer already fired this is a no-op.
  asio::post(strand_, [self = shared_from_this()] {
    if (!self->fired_) self->Fire();
    self->timer_.cancel();
  });
}

void LongPoll::Fire() {
  if (fired_) return;
  fired_ = true;
  fired_flag_.store(true, std::memory_order_release);
  auto resume = std::move(resume_);
  resume_ = nullptr;
  resume();
}

Subscription::Subscription(SubscriptionId id, ConsumerGroup group, std::shared_ptr<Topic> topic,
                           asio::thread_pool& pool, v1::SubscriptionRecord record)
    : id_(id),
      group_(std::move(group)),
      topic_(std::move(topic)),
      receive_strand_(asio::make_strand(pool)) {
  MutexLock lock(&mu_);
  cursors_.resize(topic_->queue_count());
  std::string filter = record.tag_filter();
  record_ = std::move(record);
  SetTagFilter(filter);
}

namespace {
// "a || b" -> {"a", "b"}; "*" or "" -> {} (every tag).
std::set<std::string> ParseTagFilter(const std::string& expression) {
  std::set<std::string> tags;
  size_t start = 0;
  while (start <= expression.size()) {
    size_t end = expression.find("||", start);
    if (end == std::string::npos) end = expression.size();
    std::string tag = expression.substr(start, end - start);
    auto first = tag.find_first_not_of(' ');
    auto last = tag.find_last_not_of(' ');
    tag = first == std::string::npos ? "" : tag.substr(first, last - first + 1);
    if (tag == "*") return {};
    if (!tag.empty()) tags.insert(tag);
    start = end + 2;
  }
  return tags;
}
}  // namespace

bool Subscription::SetTagFilter(const std::string& expression) {
  std::string normalized = expression == "*" ? "" : expression;
  filter_tags_ = ParseTagFilter(normalized);
  if (record_.tag_filter() == normalized) return false;
  record_.set_tag_filter(normalized);
  return true;
}

void Subscription::OnAppend() { WakeAll(); }

void Subscription::WakeAll() {
  std::vector<std::shared_ptr<LongPoll>> wake;
  {
    MutexLock lock(&mu_);
    ++version_;
    wake.swap(waiters_);
  }
  for (auto& w : wake) w->Wake();
}

void Subscription::AddWaiter(std::shared_ptr<LongPoll> poll) {
  std::erase_if(waiters_, [](const std::shared_ptr<LongPoll>& w) { return w->fired(); });
  waiters_.push_back(std::move(poll));
}

void Subscription::SetInflight(QueueId q, Offset offset, const Inflight& entry) {
  auto& map = cursors_[q.value()].inflight;
  auto it = map.find(offset);
  if (it != map.end()) {
    by_visible_.erase({it->second.visible_at_ms, q.value(), offset});
    final_.erase({it->second.invisible_until_ms, q.value(), offset});
    it->second = entry;
  } else {
    map.emplace(offset, entry);
    ++inflight_count_;
  }
  by_visible_.insert({entry.visible_at_ms, q.value(), offset});
  if (entry.attempt >= max_attempts_) final_.insert({entry.invisible_until_ms, q.value(), offset});
}

void Subscription::EraseInflight(QueueId q, Offset offset) {
  auto& map = cursors_[q.value()].inflight;
  auto it = map.find(offset);
  if (it == map.end()) return;
  by_visible_.erase({it->second.visible_at_ms, q.value(), offset});
  final_.erase({it->second.invisible_until_ms, q.value(), offset});
  map.erase(it);
  --inflight_count_;
}

void Subscription::SetMaxAttempts(uint32_t max_attempts) {
  if (max_attempts == max_attempts_) return;
  max_attempts_ = max_attempts;
  final_.clear();
  for (uint32_t q = 0; q < cursors_.size(); ++q) {
    for (const auto& [offset, e] : cursors_[q].inflight) {
      if (e.attempt >= max_attempts_) final_.insert({e.invisible_until_ms, q, offset});
    }
  }
}

void Subscription::FifoBlock(QueueId q, Offset offset, const std::string& group,
                             const std::string& message_id, int64_t now) {
  Inflight e;
  e.message_id = message_id;
  e.attempt = 0;
  e.visible_at_ms = INT64_MAX;
  e.invisible_until_ms = INT64_MAX;
  e.first_received_ms = now;
  e.message_group = group;
  e.blocked = true;
  SetInflight(q, offset, e);
  fifo_waiting_[{q.value(), group}].push_back(offset);
}

std::optional<Offset> Subscription::FifoRelease(QueueId q, const std::string& group,
                                                  int64_t now) {
  auto key = std::make_pair(q.value(), group);
  auto it = fifo_waiting_.find(key);
  while (it != fifo_waiting_.end() && !it->second.empty()) {
    Offset next = it->second.front();
    it->second.pop_front();
    if (it->second.empty()) fifo_waiting_.erase(it);
    auto e = cursors_[q.value()].inflight.find(next);
    if (e == cursors_[q.value()].inflight.end()) {
      it = fifo_waiting_.find(key);
      continue;
    }
    Inflight entry = e->second;
    entry.blocked = false;
    entry.visible_at_ms = now;
    entry.invisible_until_ms = now;
    SetInflight(q, next, entry);
    return next;  // the group stays busy with its new head
  }
  fifo_busy_.erase(key);
  return std::nullopt;
}

void Subscription::FifoRebuild() {
  fifo_waiting_.clear();
  fifo_busy_.clear();
  for (uint32_t q = 0; q < cursors_.size(); ++q) {
    for (const auto& [offset, e] : cursors_[q].inflight) {  // offset order
      if (e.message_group.empty()) continue;
      if (e.blocked) {
        fifo_waiting_[{q, e.message_group}].push_back(offset);
      } else {
        fifo_busy_.insert({q, e.message_group});
      }
    }
  }
  // A group with waiting messages and none delivered (its head was settled
  // in the batch that stored the wait): the first one is next.
  std::vector<std::pair<uint32_t, std::string>> idle;
  for (const auto& [key, offsets] : fifo_waiting_) {
    if (!fifo_busy_.count(key)) idle.push_back(key);
  }
  for (const auto& key : idle) {
    fifo_busy_.insert(key);
    FifoRelease(QueueId(key.first), key.second, 0);
  }
}

std::vector<std::pair<QueueId, Offset>> Subscription::ExpiredFinal(int64_t now,
                                                                   size_t max) const {
  std::vector<std::pair<QueueId, Offset>> out;
  for (auto it = final_.begin(); it != final_.end() && out.size() < max; ++it) {
    if (std::get<0>(*it) > now) break;
    if (moving_.count({std::get<1>(*it), std::get<2>(*it)})) continue;
    out.emplace_back(QueueId(std::get<1>(*it)), std::get<2>(*it));
  }
  return out;
}

std::vector<std::pair<QueueId, Offset>> Subscription::VisibleInflight(int64_t now,
                                                                      size_t max) const {
  std::vector<std::pair<QueueId, Offset>> out;
  for (auto it = by_visible_.begin(); it != by_visible_.end() && out.size() < max; ++it) {
    if (std::get<0>(*it) > now) break;
    uint32_t q = std::get<1>(*it);
    Offset offset = std::get<2>(*it);
    // Final entries belong to the dead-letter sweeper.
    auto e = cursors_[q].inflight.find(offset);
    if (e == cursors_[q].inflight.end() || e->second.attempt >= max_attempts_) continue;
    if (moving_.count({q, offset})) continue;
    out.emplace_back(QueueId(q), offset);
  }
  return out;
}

int64_t Subscription::NextVisibleMs() const {
  // Final entries and those being dead-lettered are the sweeper's, not a
  // receive's: a parked receive must not wake for them.
  for (const auto& [visible_at, q, offset] : by_visible_) {
    auto e = cursors_[q].inflight.find(offset);
    if (e == cursors_[q].inflight.end() || e->second.attempt >= max_attempts_) continue;
    if (moving_.count({q, offset})) continue;
    return visible_at;
  }
  return INT64_MAX;
}

}  // namespace halfmq::broker
