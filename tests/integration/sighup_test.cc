// SIGHUP (a closed terminal, a supervisor's reload) never ends the broker:
// it keeps serving on the connection it had and on new ones, and still
// shuts down gracefully on SIGTERM afterwards.
#include <signal.h>

#include <gtest/gtest.h>

#include "tests/util/raw_broker_test.h"

namespace halfmq::testing {
namespace {

class SighupTest : public RawBrokerTest {
 protected:
  v1::Status::Code CreateTopic(RawClient* client, const std::string& name) {
    v1::Frame f;
    f.mutable_create_topic()->set_name(name);
    f.mutable_create_topic()->set_queues(1);
    auto r = client->Call(std::move(f));
    EXPECT_TRUE(r.has_value()) << broker_->LogTail();
    return r.has_value() ? r->status().code() : v1::Status::INTERNAL;
  }
};

TEST_F(SighupTest, BrokerKeepsServingAfterSighup) {
  StartBroker();
  ASSERT_EQ(CreateTopic(c_.get(), "before"), v1::Status::OK);

  // kill() returns after the signal is generated; had its action been the
  // default (terminate), every broker thread would already be marked to die
  // and could not answer the requests below.
  for (int i = 0; i < 3; ++i) ASSERT_EQ(::kill(broker_->pid(), SIGHUP), 0);

  EXPECT_EQ(CreateTopic(c_.get(), "after"), v1::Status::OK);
  RawClient fresh(broker_->address());
  ASSERT_TRUE(fresh.connected());
  EXPECT_EQ(CreateTopic(&fresh, "after-new-connection"), v1::Status::OK);
  EXPECT_EQ(broker_->Terminate(), 0) << broker_->LogTail();
}

}  // namespace
}  // namespace halfmq::testing
