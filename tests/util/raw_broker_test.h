// RawBrokerTest: a fixture for integration tests that talk raw frames to a
// real halfmq-broker process on loopback, with a temporary data directory.
#ifndef HALFMQ_TESTS_UTIL_RAW_BROKER_TEST_H_
#define HALFMQ_TESTS_UTIL_RAW_BROKER_TEST_H_

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/util/broker_process.h"
#include "tests/util/raw_client.h"
#include "tests/util/temp_dir.h"

namespace halfmq::testing {

class RawBrokerTest : public ::testing::Test {
 protected:
  // Starts (or, after the previous one stopped, restarts) a broker on
  // dir_/data with `flags`, and connects c_ to it.
  void StartBroker(const std::vector<std::string>& flags = {}) {
    broker_ = BrokerProcess::Start(dir_.Sub("data"), flags);
    ASSERT_NE(broker_, nullptr);
    c_ = std::make_unique<RawClient>(broker_->address());
    ASSERT_TRUE(c_->connected());
  }

  // Sends `f` on c_ and returns the answer (an empty frame, and a test
  // failure, if none came).
  v1::Frame Call(v1::Frame f) {
    auto r = c_->Call(std::move(f));
    EXPECT_TRUE(r.has_value()) << (broker_ ? broker_->LogTail() : std::string());
    return r.value_or(v1::Frame());
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<RawClient> c_;
};

}  // namespace halfmq::testing

#endif  // HALFMQ_TESTS_UTIL_RAW_BROKER_TEST_H_
