// What one phase of halfmq-bench measured, and its report line: text for
// people, or with --json one JSON object (common/json.h, strings escaped)
// whose field names and order scripts (benchmarks/compare.sh) rely on.
// Values and pure functions; thread-compatible.
#ifndef HALFMQ_BENCHMARKS_BENCH_REPORT_H_
#define HALFMQ_BENCHMARKS_BENCH_REPORT_H_

#include <cstdint>
#include <string>

#include "benchmarks/bench_broker.h"
#include "benchmarks/bench_config.h"
#include "benchmarks/histogram.h"

namespace halfmq::bench {

struct RunResult {
  uint64_t ok = 0;
  uint64_t errors = 0;
  uint64_t lost = 0;
  uint64_t duplicates = 0;
  double seconds = 0;
  Histogram latency;
  // CPU spent during this phase (filled by Measured): by this process (the
  // clients) and by the broker (-1 when it is not ours to observe).
  double client_cpu_s = 0;
  double broker_cpu_s = -1;
};

// The report of phase `label` ("send", "txn-recv", ...). `own` is the usage
// of the broker halfmq-bench started, or null for a broker given with
// --broker. Ends with a newline.
std::string FormatReport(const Config& c, const RunResult& r, const BrokerUsage* own,
                         const std::string& label);

}  // namespace halfmq::bench

#endif  // HALFMQ_BENCHMARKS_BENCH_REPORT_H_
