#include "benchmarks/bench_report.h"

#include <cstdio>

#include "common/json.h"

namespace halfmq::bench {
namespace {

std::string JsonReport(const Config& c, const RunResult& r, const BrokerUsage* own,
                       const std::string& label, double throughput) {
  BrokerUsage usage = own ? *own : BrokerUsage{};
  return JsonObject()
             .Str("mode", label)
             .Fixed("throughput_per_s", throughput, 0)
             .Uint("count", r.ok)
             .Fixed("duration_s", r.seconds, 3)
             .Uint("p50_us", r.latency.Percentile(0.5))
             .Uint("p99_us", r.latency.Percentile(0.99))
             .Uint("p999_us", r.latency.Percentile(0.999))
             .Uint("max_us", r.latency.max())
             .Fixed("mean_us", r.latency.mean(), 1)
             .Uint("errors", r.errors)
             .Uint("lost", r.lost)
             .Uint("duplicates", r.duplicates)
             .Int("broker_peak_rss_bytes", own ? usage.peak_rss_bytes : -1)
             .Fixed("broker_cpu_s", usage.cpu_seconds, 2)
             .Fixed("phase_broker_cpu_s", r.broker_cpu_s, 2)
             .Fixed("phase_client_cpu_s", r.client_cpu_s, 2)
             .Uint("size", c.size)
             .Int("connections", c.connections)
             .Int("inflight", c.inflight)
             .Int("batch", c.batch)
             .Str("flush", c.flush)
             .str() +
         "\n";
}

std::string TextReport(const RunResult& r, const BrokerUsage* own, const std::string& label,
                       double throughput) {
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "%-8s %10.0f msg/s  n=%llu in %.2fs  p50=%lluus p99=%lluus p99.9=%lluus "
                "max=%lluus  errors=%llu lost=%llu dup=%llu",
                label.c_str(), throughput, static_cast<unsigned long long>(r.ok), r.seconds,
                static_cast<unsigned long long>(r.latency.Percentile(0.5)),
                static_cast<unsigned long long>(r.latency.Percentile(0.99)),
                static_cast<unsigned long long>(r.latency.Percentile(0.999)),
                static_cast<unsigned long long>(r.latency.max()),
                static_cast<unsigned long long>(r.errors), static_cast<unsigned long long>(r.lost),
                static_cast<unsigned long long>(r.duplicates));
  std::string out = buf;
  if (own) {
    std::snprintf(buf, sizeof(buf), "  broker: cpu=%.2fs peak_rss=%.1fMiB", own->cpu_seconds,
                  static_cast<double>(own->peak_rss_bytes) / (1 << 20));
    out += buf;
  }
  if (r.ok > 0 && r.broker_cpu_s >= 0) {
    std::snprintf(buf, sizeof(buf), "  cpu/op: broker=%.1fus client=%.1fus",
                  r.broker_cpu_s * 1e6 / r.ok, r.client_cpu_s * 1e6 / r.ok);
    out += buf;
  }
  return out + "\n";
}

}  // namespace

std::string FormatReport(const Config& c, const RunResult& r, const BrokerUsage* own,
                         const std::string& label) {
  double throughput = r.seconds > 0 ? static_cast<double>(r.ok) / r.seconds : 0;
  return c.json ? JsonReport(c, r, own, label, throughput) : TextReport(r, own, label, throughput);
}

}  // namespace halfmq::bench
