#include "benchmarks/bench_report.h"

#include <gtest/gtest.h>

namespace halfmq::bench {
namespace {

RunResult SomeResult() {
  RunResult r;
  r.ok = 1000;
  r.errors = 2;
  r.lost = 3;
  r.duplicates = 4;
  r.seconds = 0.5;
  r.latency.Record(100);
  r.client_cpu_s = 0.25;
  r.broker_cpu_s = 0.125;
  return r;
}

TEST(BenchReportTest, JsonHasEveryFieldInOrder) {
  Config c;
  c.json = true;
  c.connections = 2;
  c.inflight = 64;
  c.batch = 16;
  BrokerUsage usage{1.5, 1 << 20, 0};
  std::string line = FormatReport(c, SomeResult(), &usage, "send");
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  // The fields scripts read, in this order.
  size_t at = 0;
  for (const char* field : {"\"mode\":\"send\"",
                            "\"throughput_per_s\":2000",
                            "\"count\":1000",
                            "\"duration_s\":0.500",
                            "\"p50_us\":",
                            "\"p99_us\":",
                            "\"p999_us\":",
                            "\"max_us\":",
                            "\"mean_us\":100.0",
                            "\"errors\":2",
                            "\"lost\":3",
                            "\"duplicates\":4",
                            "\"broker_peak_rss_bytes\":1048576",
                            "\"broker_cpu_s\":1.50",
                            "\"phase_broker_cpu_s\":0.12",
                            "\"phase_client_cpu_s\":0.25",
                            "\"size\":1024",
                            "\"connections\":2",
                            "\"inflight\":64",
                            "\"batch\":16",
                            "\"flush\":\"sync\"}"}) {
    size_t found = line.find(field, at);
    ASSERT_NE(found, std::string::npos) << field << " after " << at << " in " << line;
    at = found + 1;
  }
  EXPECT_EQ(line.front(), '{');
}

TEST(BenchReportTest, JsonEscapesStringsAndMarksAForeignBroker) {
  Config c;
  c.json = true;
  c.flush = "a\"b\\c\n";
  std::string line = FormatReport(c, RunResult(), nullptr, "odd\"label");
  EXPECT_NE(line.find("\"mode\":\"odd\\\"label\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"flush\":\"a\\\"b\\\\c\\u000a\"}"), std::string::npos) << line;
  EXPECT_NE(line.find("\"broker_peak_rss_bytes\":-1,"), std::string::npos) << line;
  EXPECT_NE(line.find("\"throughput_per_s\":0,"), std::string::npos) << line;
  // One line: the newline of the value is escaped.
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(BenchReportTest, TextLineNamesThePhaseAndCpuPerOperation) {
  Config c;
  BrokerUsage usage{1.5, 1 << 20, 0};
  std::string line = FormatReport(c, SomeResult(), &usage, "send");
  EXPECT_EQ(line.rfind("send           2000 msg/s  n=1000 in 0.50s", 0), 0u) << line;
  EXPECT_NE(line.find("errors=2 lost=3 dup=4"), std::string::npos) << line;
  EXPECT_NE(line.find("broker: cpu=1.50s peak_rss=1.0MiB"), std::string::npos) << line;
  EXPECT_NE(line.find("cpu/op: broker=125.0us client=250.0us"), std::string::npos) << line;
  EXPECT_EQ(line.back(), '\n');
}

}  // namespace
}  // namespace halfmq::bench
