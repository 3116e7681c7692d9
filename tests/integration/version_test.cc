// `halfmq --version` and `halfmq-broker --version` run as processes: both
// print the one version CMake generates from the project version.
#include <gtest/gtest.h>

#include "common/version.h"
#include "tests/util/broker_process.h"

namespace halfmq::testing {
namespace {

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

TEST(VersionTest, BrokerPrintsTheGeneratedVersion) {
  CommandResult r = RunCommand({"halfmq-broker", "--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(FirstLine(r.out), std::string("halfmq-broker version ") + kHalfmqVersion) << r.out;
}

TEST(VersionTest, CliPrintsTheSameVersion) {
  CommandResult r = RunCommand({"halfmq", "--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::string("halfmq version ") + kHalfmqVersion + "\n");
  EXPECT_TRUE(r.err.empty()) << r.err;
}

}  // namespace
}  // namespace halfmq::testing
