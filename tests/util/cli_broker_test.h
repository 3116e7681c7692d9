// CliBrokerTest: a fixture for tests that run the `halfmq` CLI as a separate
// process against a real halfmq-broker on loopback.
#ifndef HALFMQ_TESTS_UTIL_CLI_BROKER_TEST_H_
#define HALFMQ_TESTS_UTIL_CLI_BROKER_TEST_H_

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/util/broker_process.h"
#include "tests/util/temp_dir.h"

namespace halfmq::testing {

class CliBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = BrokerProcess::Start(dir_.Sub("data"));
    ASSERT_NE(broker_, nullptr);
  }
  // Runs `halfmq --broker <this broker> args...` with `input` on stdin.
  CommandResult Cli(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"halfmq", "--broker", broker_->address()});
    return RunCommand(args, input);
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
};

}  // namespace halfmq::testing

#endif  // HALFMQ_TESTS_UTIL_CLI_BROKER_TEST_H_
