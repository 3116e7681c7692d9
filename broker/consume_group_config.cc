// ConsumeService: retry policies and group configs (Set/GetGroupConfig).
#include "broker/consume_service.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "common/limits.h"

namespace halfmq::broker {

v1::RetryPolicy DefaultRetryPolicy() {
  v1::RetryPolicy p;
  p.mutable_exponential()->set_initial_ms(1000);
  p.mutable_exponential()->set_multiplier(2.0);
  p.mutable_exponential()->set_max_ms(300000);
  p.set_max_attempts(16);
  return p;
}

uint32_t MaxAttempts(const v1::RetryPolicy& policy) {
  return policy.max_attempts() == 0 ? 16 : policy.max_attempts();
}

Status ValidateRetryPolicy(const v1::RetryPolicy& p) {
  if (p.max_attempts() > 1000) return Status::InvalidArgument("max_attempts must be 1..1000");
  switch (p.schedule_case()) {
    case v1::RetryPolicy::kExponential: {
      const auto& e = p.exponential();
      if (e.initial_ms() < 1 || e.initial_ms() > kMaxInvisibleMs) {
        return Status::InvalidArgument("initial_ms must be 1.." + std::to_string(kMaxInvisibleMs));
      }
      if (!(e.multiplier() >= 1.0 && e.multiplier() <= 100.0)) {
        return Status::InvalidArgument("multiplier must be 1..100");
      }
      if (e.max_ms() < e.initial_ms() || e.max_ms() > kMaxInvisibleMs) {
        return Status::InvalidArgument("max_ms must be initial_ms.." +
                                       std::to_string(kMaxInvisibleMs));
      }
      return Status::Ok();
    }
    case v1::RetryPolicy::kFixed: {
      const auto& f = p.fixed();
      if (f.delays_ms_size() == 0 || f.delays_ms_size() > 128) {
        return Status::InvalidArgument("give 1..128 delays");
      }
      for (uint32_t d : f.delays_ms()) {
        if (d > kMaxInvisibleMs) {
          return Status::InvalidArgument("a delay exceeds " + std::to_string(kMaxInvisibleMs) +
                                         " ms");
        }
      }
      return Status::Ok();
    }
    case v1::RetryPolicy::SCHEDULE_NOT_SET:
      return Status::InvalidArgument("a retry policy needs exponential or fixed delays");
  }
  return Status::Ok();
}

int64_t RetryDelayMs(const v1::RetryPolicy& p, uint32_t attempt, double unit) {
  attempt = std::max<uint32_t>(attempt, 1);
  if (p.has_fixed() && p.fixed().delays_ms_size() > 0) {
    int i = std::min<int>(static_cast<int>(attempt), p.fixed().delays_ms_size()) - 1;
    return p.fixed().delays_ms(i);
  }
  const auto& e = p.exponential();
  double d = static_cast<double>(e.initial_ms()) *
             std::pow(e.multiplier(), static_cast<double>(std::min<uint32_t>(attempt - 1, 60)));
  d = std::min(d, static_cast<double>(e.max_ms()));
  if (!e.no_jitter()) d *= 0.75 + 0.5 * unit;
  return std::clamp<int64_t>(static_cast<int64_t>(d), 0, e.max_ms());
}

std::string DeadLetterTopic(const ConsumerGroup& group) { return "%DLQ." + group.value(); }

v1::RetryPolicy ConsumeService::PolicyOf(const ConsumerGroup& group) const {
  MutexLock lock(&groups_mu_);
  auto it = policies_.find(group);
  return it == policies_.end() ? DefaultRetryPolicy() : it->second;
}

int64_t ConsumeService::RetryDelay(const v1::RetryPolicy& policy, uint32_t attempt) {
  double unit;
  {
    MutexLock lock(&rng_mu_);
    unit = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  }
  return RetryDelayMs(policy, attempt, unit);
}

void ConsumeService::SetGroupConfig(v1::SetGroupConfigRequest request, Responder responder) {
  Status s = ValidateName("consumer group", request.group());
  if (s.ok()) s = ValidateRetryPolicy(request.retry_policy());
  if (!s.ok()) return responder.Error(s);
  v1::GroupConfigRecord record;
  record.set_group(request.group());
  *record.mutable_retry_policy() = request.retry_policy();
  if (record.retry_policy().max_attempts() == 0) record.mutable_retry_policy()->set_max_attempts(16);
  storage::Batch batch = store_->NewBatch();
  group_table_.PutConfig(&batch, record);
  auto shared = std::make_shared<Responder>(std::move(responder));
  // Applied in memory once durable, so a reader never sees a policy that a
  // crash could undo.
  store_->Commit(std::move(batch), [this, shared, record] {
    ConsumerGroup group(record.group());
    {
      MutexLock lock(&groups_mu_);
      policies_[group] = record.retry_policy();
    }
    for (auto& sub : GroupSubscriptions(group)) {
      MutexLock lock(&sub->mu());
      sub->SetMaxAttempts(MaxAttempts(record.retry_policy()));
    }
    v1::Frame frame;
    auto* config = frame.mutable_set_group_config_response()->mutable_config();
    config->set_group(record.group());
    *config->mutable_retry_policy() = record.retry_policy();
    config->set_dead_letter_topic(DeadLetterTopic(group));
    shared->Ok(std::move(frame));
  });
}

void ConsumeService::GetGroupConfig(v1::GetGroupConfigRequest request, Responder responder) {
  Status s = ValidateName("consumer group", request.group());
  if (!s.ok()) return responder.Error(s);
  v1::Frame frame;
  auto* config = frame.mutable_get_group_config_response()->mutable_config();
  config->set_group(request.group());
  ConsumerGroup group(request.group());
  *config->mutable_retry_policy() = PolicyOf(group);
  config->set_dead_letter_topic(DeadLetterTopic(group));
  responder.Ok(std::move(frame));
}

}  // namespace halfmq::broker
