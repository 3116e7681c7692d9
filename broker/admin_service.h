// AdminService: topic creation and listing, broker statistics. Thread-safe.
#ifndef HALFMQ_BROKER_ADMIN_SERVICE_H_
#define HALFMQ_BROKER_ADMIN_SERVICE_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "broker/metrics.h"
#include "broker/responder.h"
#include "broker/topic_manager.h"
#include "storage/store.h"

namespace halfmq::broker {

class AdminService {
 public:
  AdminService(storage::Store* store, TopicManager* topics, Metrics* metrics)
      : store_(store), topics_(topics), metrics_(metrics) {}

  void CreateTopic(v1::CreateTopicRequest request, Responder responder);
  void ListTopics(v1::ListTopicsRequest request, Responder responder);
  void GetBrokerStats(v1::GetBrokerStatsRequest request, Responder responder);

  // Counters of metrics, the store and the committer, as GetBrokerStats
  // reports them.
  std::map<std::string, int64_t> Stats() const;

  // Adds counters another service keeps. Set-up only (before serving).
  using StatsSource = std::function<void(std::map<std::string, int64_t>*)>;
  void AddStatsSource(StatsSource source) { sources_.push_back(std::move(source)); }

 private:
  storage::Store* const store_;
  TopicManager* const topics_;
  Metrics* const metrics_;
  std::vector<StatsSource> sources_;
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_ADMIN_SERVICE_H_
