#include "broker/admin_service.h"

#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>

namespace halfmq::broker {
namespace {

// Resident set size of this process in bytes, or 0 if unknown.
int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  if (!(statm >> pages_total >> pages_resident)) return 0;
  return static_cast<int64_t>(pages_resident) * ::sysconf(_SC_PAGESIZE);
}

}  // namespace

void AdminService::CreateTopic(v1::CreateTopicRequest request, Responder responder) {
  auto shared = std::make_shared<Responder>(std::move(responder));
  topics_->Create(request.name(), request.queues(), request.fifo(),
                  [shared](Result<std::shared_ptr<Topic>> topic) {
                    if (!topic.ok()) return shared->Error(topic.status());
                    v1::Frame frame;
                    *frame.mutable_create_topic_response()->mutable_topic() = (*topic)->Info();
                    shared->Ok(std::move(frame));
                  });
}

void AdminService::ListTopics(v1::ListTopicsRequest, Responder responder) {
  v1::Frame frame;
  auto* out = frame.mutable_list_topics_response();
  for (const auto& t : topics_->List()) *out->add_topics() = t->Info();
  responder.Ok(std::move(frame));
}

std::map<std::string, int64_t> AdminService::Stats() const {
  auto out = metrics_->Snapshot();
  storage::StoreStats s = store_->stats();
  out["store_commit_batches"] = static_cast<int64_t>(s.committer.batches);
  out["store_commit_groups"] = static_cast<int64_t>(s.committer.groups);
  out["store_wal_syncs"] = static_cast<int64_t>(s.committer.syncs);
  out["store_commit_bytes"] = static_cast<int64_t>(s.committer.bytes);
  out["store_max_group"] = static_cast<int64_t>(s.committer.max_group);
  out["store_commit_spins_hit"] = static_cast<int64_t>(s.committer.spins_hit);
  out["store_commit_spins_missed"] = static_cast<int64_t>(s.committer.spins_missed);
  out["store_idle_flushes"] = static_cast<int64_t>(s.committer.idle_runs);
  out["store_failed_batches"] = static_cast<int64_t>(s.committer.failed_batches);
  out["store_live_data_bytes"] = static_cast<int64_t>(s.live_data_bytes);
  out["store_memtable_bytes"] = static_cast<int64_t>(s.memtable_bytes);
  out["process_resident_bytes"] = ResidentBytes();
  out["topics"] = static_cast<int64_t>(topics_->List().size());
  for (const auto& source : sources_) source(&out);
  return out;
}

void AdminService::GetBrokerStats(v1::GetBrokerStatsRequest, Responder responder) {
  v1::Frame frame;
  auto* counters = frame.mutable_get_broker_stats_response()->mutable_counters();
  for (const auto& [name, value] : Stats()) (*counters)[name] = value;
  responder.Ok(std::move(frame));
}

}  // namespace halfmq::broker
