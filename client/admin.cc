// Admin: thin synchronous wrappers over the admin requests. Every request is
// safe to retry, ResolveTransaction included (EndTransaction is idempotent).
#include "halfmq/admin.h"

#include <utility>

#include "client/connection.h"
#include "client/convert.h"
#include "client/utf8.h"
#include "common/limits.h"

namespace halfmq {

class Admin::Impl {
 public:
  explicit Impl(std::unique_ptr<client::Connection> connection)
      : connection_(std::move(connection)) {}
  client::Connection& connection() { return *connection_; }

 private:
  std::unique_ptr<client::Connection> connection_;
};

Result<std::unique_ptr<Admin>> Admin::Connect(const ClientOptions& options) {
  auto connection = client::Connection::Create(options);
  if (!connection.ok()) return connection.status();
  HALFMQ_RETURN_IF_ERROR((*connection)->Connect());
  return std::unique_ptr<Admin>(new Admin(std::make_unique<Impl>(std::move(connection).value())));
}

Admin::Admin(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Admin::~Admin() = default;

Result<TopicInfo> Admin::CreateTopic(const std::string& name, uint32_t queues) {
  HALFMQ_RETURN_IF_ERROR(ValidateName("topic", name));
  if (queues > kMaxQueuesPerTopic) {
    return Status::InvalidArgument("a topic has at most " + std::to_string(kMaxQueuesPerTopic) +
                                   " queues");
  }
  v1::Frame request;
  request.mutable_create_topic()->set_name(name);
  request.mutable_create_topic()->set_queues(queues);
  auto response = impl_->connection().CallSync(std::move(request));
  if (!response.ok()) return response.status();
  return client::FromProto(response->create_topic_response().topic());
}

Result<std::vector<TopicInfo>> Admin::ListTopics() {
  v1::Frame request;
  request.mutable_list_topics();
  auto response = impl_->connection().CallSync(std::move(request));
  if (!response.ok()) return response.status();
  std::vector<TopicInfo> topics;
  for (const v1::TopicInfo& t : response->list_topics_response().topics()) {
    topics.push_back(client::FromProto(t));
  }
  return topics;
}

Status Admin::CreateSubscription(const std::string& group, const std::string& topic,
                                 StartPosition start) {
  HALFMQ_RETURN_IF_ERROR(client::ValidateGroup(group));
  HALFMQ_RETURN_IF_ERROR(client::ValidateReadableTopic(topic));
  v1::Frame request;
  v1::CreateSubscriptionRequest* sub = request.mutable_create_subscription();
  sub->set_group(group);
  sub->set_topic(topic);
  sub->set_start(start == StartPosition::kLatest ? v1::LATEST : v1::EARLIEST);
  return impl_->connection().CallSync(std::move(request)).status();
}

Result<std::vector<QueueLag>> Admin::GetLag(const std::string& group, const std::string& topic) {
  HALFMQ_RETURN_IF_ERROR(client::ValidateGroup(group));
  if (!topic.empty()) HALFMQ_RETURN_IF_ERROR(client::ValidateReadableTopic(topic));
  v1::Frame request;
  request.mutable_get_lag()->set_group(group);
  request.mutable_get_lag()->set_topic(topic);
  auto response = impl_->connection().CallSync(std::move(request));
  if (!response.ok()) return response.status();
  std::vector<QueueLag> lags;
  for (const v1::QueueLag& q : response->get_lag_response().queues()) {
    lags.push_back(client::FromProto(q));
  }
  return lags;
}

Result<std::vector<TransactionInfo>> Admin::ListTransactions(TxnListState state, uint32_t limit,
                                                            std::string start_after) {
  if (!client::IsValidUtf8(start_after)) {
    return Status::InvalidArgument("start_after is not valid UTF-8");
  }
  v1::Frame request;
  v1::ListTransactionsRequest* list = request.mutable_list_transactions();
  list->set_state(client::ToProto(state));
  list->set_limit(limit);
  list->set_start_after(std::move(start_after));
  auto response = impl_->connection().CallSync(std::move(request));
  if (!response.ok()) return response.status();
  std::vector<TransactionInfo> transactions;
  for (const v1::TransactionInfo& t : response->list_transactions_response().transactions()) {
    auto info = client::FromProto(t);
    if (!info.ok()) return info.status();
    transactions.push_back(std::move(info).value());
  }
  return transactions;
}

Result<EndResult> Admin::ResolveTransaction(const std::string& txn_id,
                                            TxnState commit_or_rollback) {
  auto request =
      client::BuildEndTransactionFrame(txn_id, commit_or_rollback, client::EndSource::kOperator);
  if (!request.ok()) return request.status();
  auto response = impl_->connection().CallSync(std::move(request).value());
  if (!response.ok()) return response.status();
  return client::EndResultFromResponse(*response, commit_or_rollback);
}

Result<std::map<std::string, int64_t>> Admin::GetBrokerStats() {
  v1::Frame request;
  request.mutable_get_broker_stats();
  auto response = impl_->connection().CallSync(std::move(request));
  if (!response.ok()) return response.status();
  const auto& counters = response->get_broker_stats_response().counters();
  return std::map<std::string, int64_t>(counters.begin(), counters.end());
}

}  // namespace halfmq
