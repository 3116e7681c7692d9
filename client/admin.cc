// Admin: thin synchronous wrappers over the admin requests. Every request is
// safe to retry, ResolveTransaction included (EndTransaction is idempotent),
// and Redrive (each dead letter is redriven at most once; see admin.h for
// what a retried Redrive reports).
#include "halfmq/admin.h"

#include <set>
#include <utility>

#include "client/connection.h"
#include "client/convert.h"
#include "common/limits.h"
#include "common/utf8.h"

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
  TopicOptions options;
  options.queues = queues;
  return CreateTopic(name, options);
}

Result<TopicInfo> Admin::CreateTopic(const std::string& name, const TopicOptions& options) {
  HALFMQ_RETURN_IF_ERROR(ValidateName("topic", name));
  if (options.queues > kMaxQueuesPerTopic) {
    return Status::InvalidArgument("a topic has at most " + std::to_string(kMaxQueuesPerTopic) +
                                   " queues");
  }
  v1::Frame request;
  v1::CreateTopicRequest* create = request.mutable_create_topic();
  create->set_name(name);
  create->set_queues(options.queues);
  create->set_fifo(options.fifo);
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
  HALFMQ_RETURN_IF_ERROR(ValidatePageCursor(start_after));
  if (!IsValidUtf8(start_after)) {
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

Result<GroupConfig> Admin::SetRetryPolicy(const std::string& group, const RetryPolicy& policy) {
  HALFMQ_RETURN_IF_ERROR(client::ValidateGroup(group));
  auto proto = client::ToProto(policy);
  if (!proto.ok()) return proto.status();
  v1::Frame request;
  v1::SetGroupConfigRequest* set = request.mutable_set_group_config();
  set->set_group(group);
  *set->mutable_retry_policy() = std::move(proto).value();
  auto response = impl_->connection().CallSync(std::move(request));
  if (!response.ok()) return response.status();
  return client::FromProto(response->set_group_config_response().config());
}

Result<GroupConfig> Admin::GetGroupConfig(const std::string& group) {
  HALFMQ_RETURN_IF_ERROR(client::ValidateGroup(group));
  v1::Frame request;
  request.mutable_get_group_config()->set_group(group);
  auto response = impl_->connection().CallSync(std::move(request));
  if (!response.ok()) return response.status();
  return client::FromProto(response->get_group_config_response().config());
}

Result<std::vector<DeadLetter>> Admin::ListDeadLetters(const std::string& group, uint32_t limit,
                                                       std::string start_after,
                                                       bool include_redriven) {
  HALFMQ_RETURN_IF_ERROR(client::ValidateGroup(group));
  HALFMQ_RETURN_IF_ERROR(ValidatePageCursor(start_after));
  if (!IsValidUtf8(start_after)) {
    return Status::InvalidArgument("start_after is not valid UTF-8");
  }
  v1::Frame request;
  v1::ListDeadLettersRequest* list = request.mutable_list_dead_letters();
  list->set_group(group);
  list->set_limit(limit);
  list->set_start_after(std::move(start_after));
  list->set_include_redriven(include_redriven);
  auto response = impl_->connection().CallSync(std::move(request));
  if (!response.ok()) return response.status();
  std::vector<DeadLetter> dead_letters;
  for (const v1::DeadLetter& d : response->list_dead_letters_response().dead_letters()) {
    dead_letters.push_back(client::FromProto(d));
  }
  return dead_letters;
}

Result<std::vector<RedriveResult>> Admin::Redrive(const std::string& group,
                                                  const std::vector<std::string>& message_ids,
                                                  const std::string& to_topic, uint32_t limit) {
  HALFMQ_RETURN_IF_ERROR(client::ValidateGroup(group));
  if (!to_topic.empty()) HALFMQ_RETURN_IF_ERROR(ValidateName("topic", to_topic));
  if (message_ids.size() > kMaxRedriveBatch || limit > kMaxRedriveBatch) {
    return Status::InvalidArgument("a redrive takes at most " + std::to_string(kMaxRedriveBatch) +
                                   " dead letters");
  }
  std::set<std::string_view> seen;
  for (const std::string& id : message_ids) {
    HALFMQ_RETURN_IF_ERROR(ValidateMessageId(id));
    if (!seen.insert(id).second) {
      return Status::InvalidArgument("message id '" + id + "' appears twice");
    }
  }
  v1::Frame request;
  v1::RedriveRequest* redrive = request.mutable_redrive();
  redrive->set_group(group);
  for (const std::string& id : message_ids) redrive->add_message_ids(id);
  redrive->set_to_topic(to_topic);
  redrive->set_limit(limit);
  auto response = impl_->connection().CallSync(std::move(request));
  if (!response.ok()) return response.status();
  const auto& results = response->redrive_response().results();
  if (!message_ids.empty() && static_cast<size_t>(results.size()) != message_ids.size()) {
    return Status::Internal("broker returned " + std::to_string(results.size()) +
                            " redrive results for " + std::to_string(message_ids.size()) +
                            " message ids");
  }
  std::vector<RedriveResult> out;
  out.reserve(static_cast<size_t>(results.size()));
  for (const v1::RedriveResult& r : results) out.push_back(client::FromProto(r));
  return out;
}

namespace {

std::vector<StoredMessage> StoredMessages(
    const google::protobuf::RepeatedPtrField<v1::FoundMessage>& found) {
  std::vector<StoredMessage> out;
  out.reserve(static_cast<size_t>(found.size()));
  for (const v1::FoundMessage& m : found) out.push_back(client::FromProto(m));
  return out;
}

}  // namespace

Result<std::vector<StoredMessage>> Admin::GetMessage(const std::string& message_id,
                                                     const std::string& topic) {
  HALFMQ_RETURN_IF_ERROR(ValidateMessageId(message_id));
  if (!topic.empty()) HALFMQ_RETURN_IF_ERROR(client::ValidateReadableTopic(topic));
  v1::Frame request;
  request.mutable_get_message()->set_message_id(message_id);
  request.mutable_get_message()->set_topic(topic);
  auto response = impl_->connection().CallSync(std::move(request));
  if (!response.ok()) return response.status();
  return StoredMessages(response->get_message_response().messages());
}

Result<std::vector<StoredMessage>> Admin::FindMessages(const std::string& topic,
                                                       const std::string& key, uint32_t limit) {
  HALFMQ_RETURN_IF_ERROR(client::ValidateReadableTopic(topic));
  HALFMQ_RETURN_IF_ERROR(ValidateKey(key));
  if (!IsValidUtf8(key)) return Status::InvalidArgument("message key is not valid UTF-8");
  v1::Frame request;
  v1::FindMessagesRequest* find = request.mutable_find_messages();
  find->set_topic(topic);
  find->set_key(key);
  find->set_limit(limit);
  auto response = impl_->connection().CallSync(std::move(request));
  if (!response.ok()) return response.status();
  return StoredMessages(response->find_messages_response().messages());
}

Result<std::vector<TraceEvent>> Admin::TraceMessage(const std::string& message_id) {
  HALFMQ_RETURN_IF_ERROR(ValidateMessageId(message_id));
  v1::Frame request;
  request.mutable_trace_message()->set_message_id(message_id);
  auto response = impl_->connection().CallSync(std::move(request));
  if (!response.ok()) return response.status();
  std::vector<TraceEvent> events;
  for (const v1::TraceEvent& e : response->trace_message_response().events()) {
    events.push_back(client::FromProto(e));
  }
  return events;
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
