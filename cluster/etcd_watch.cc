#include "cluster/etcd_watch.h"

#include <utility>

#include <glog/logging.h>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "cluster/etcd_http.h"
#include "cluster/etcd_json.h"
#include "common/base64.h"
#include "common/json.h"
#include "common/thread_name.h"

namespace halfmq::cluster {
namespace {

namespace http = boost::beast::http;
using boost::system::error_code;
using std::chrono::steady_clock;

Status Failed(const HostPort& endpoint, std::string_view step, const error_code& ec) {
  return Status::Unavailable("etcd watch " + FormatHostPort(endpoint) + ": " + std::string(step) +
                             ": " + ec.message());
}

std::string CreateRequest(const std::string& prefix, int64_t start_revision) {
  JsonObject create;
  create.Str("key", Base64Encode(prefix)).Str("range_end", Base64Encode(PrefixRangeEnd(prefix)));
  if (start_revision != 0) create.Str("start_revision", std::to_string(start_revision));
  return JsonObject().Object("create_request", create).str();
}

Result<std::vector<WatchEvent>> ParseEvents(const JsonValue& result) {
  std::vector<WatchEvent> events;
  const JsonValue* list = result.Find("events");
  if (list == nullptr) return events;
  if (!list->is_array()) return Malformed("events is not an array");
  for (size_t i = 0; i < list->size(); ++i) {
    const JsonValue& e = list->at(i);
    const JsonValue* kv = e.Find("kv");
    if (kv == nullptr) return Malformed("watch event without kv");
    Result<KeyValue> parsed = ParseKeyValue(*kv);
    if (!parsed.ok()) return parsed.status();
    const JsonValue* type = e.Find("type");  // absent: PUT (proto3 default)
    WatchEvent event;
    event.type = type != nullptr && type->text() == "DELETE" ? WatchEvent::Type::kDelete
                                                             : WatchEvent::Type::kPut;
    event.kv = std::move(*parsed);
    events.push_back(std::move(event));
  }
  return events;
}

// A non-200 answer to the watch request. Never OK: InterpretGatewayAnswer
// turns every non-200 answer into an error. (Kept out of the coroutine's
// body: written inline there, g++ 12 warns falsely about the coroutine
// frame's deallocation, -Wmismatched-new-delete.)
Status ErrorAnswer(const HostPort& endpoint, unsigned http_status, const std::string& body) {
  return InterpretGatewayAnswer(FormatHostPort(endpoint), http_status, body).status();
}

}  // namespace

EtcdWatch::EtcdWatch(std::vector<HostPort> endpoints, size_t first, std::string prefix,
                     int64_t start_revision, Callback callback)
    : endpoints_(std::move(endpoints)),
      first_(first),
      prefix_(std::move(prefix)),
      start_revision_(start_revision),
      callback_(std::move(callback)) {}

Result<std::unique_ptr<EtcdWatch>> EtcdWatch::Start(std::vector<HostPort> endpoints, size_t first,
                                                    std::string prefix, int64_t start_revision,
                                                    Callback callback,
                                                    steady_clock::time_point deadline) {
  if (endpoints.empty()) return Status::InvalidArgument("etcd watch: no endpoints");
  std::unique_ptr<EtcdWatch> watch(new EtcdWatch(std::move(endpoints), first, std::move(prefix),
                                                 start_revision, std::move(callback)));
  asio::co_spawn(watch->io_, watch->Run(), asio::detached);
  watch->thread_ = std::thread([w = watch.get()] {
    SetCurrentThreadName("etcd-watch");
    w->io_.run();
  });
  MutexLock lock(&watch->mu_);
  while (!watch->start_done_ && steady_clock::now() < deadline) {
    watch->start_cv_.WaitFor(&watch->mu_, deadline - steady_clock::now());
  }
  if (!watch->start_done_) {
    // Abandoned: FinishStart now refuses, so no callback ever runs.
    watch->start_done_ = true;
    return Status::Unavailable("etcd watch: deadline exceeded before etcd confirmed the watch");
  }
  if (!watch->start_status_.ok()) return watch->start_status_;
  return watch;
}

EtcdWatch::~EtcdWatch() {
  CHECK(std::this_thread::get_id() != thread_.get_id())
      << "an EtcdWatch must not be destroyed from its own callback";
  asio::post(io_, [this] {
    stopping_ = true;
    resolver_.cancel();
    error_code ignored;
    socket_.close(ignored);
  });
  if (thread_.joinable()) thread_.join();
}

bool EtcdWatch::FinishStart(Status status, int64_t revision) {
  MutexLock lock(&mu_);
  if (start_done_) return false;
  start_done_ = true;
  start_status_ = std::move(status);
  created_revision_ = revision;
  start_cv_.SignalAll();
  return true;
}

asio::awaitable<void> EtcdWatch::Run() {
  Status end = Status::Unavailable("etcd watch: stopped");
  // Until etcd confirms the watch, any failure moves on to the next
  // endpoint: creating a watch twice is harmless.
  for (size_t i = 0; i < endpoints_.size() && !stopping_ && !created_; ++i) {
    const HostPort& endpoint = endpoints_[(first_ + i) % endpoints_.size()];
    end = co_await Session(endpoint);
    error_code ignored;
    socket_.close(ignored);
  }
  if (!created_) {
    FinishStart(end, 0);
  } else if (!stopping_) {
    WatchResponse last;
    last.status = std::move(end);
    last.compact_revision = compact_revision_;
    callback_(last);
  }
}

asio::awaitable<Status> EtcdWatch::Session(const HostPort& endpoint) {
  error_code ec;
  auto resolved = co_await resolver_.async_resolve(endpoint.host, std::to_string(endpoint.port),
                                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Failed(endpoint, "resolve", ec);
  co_await asio::async_connect(socket_, resolved, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Failed(endpoint, "connect", ec);

  http::request<http::string_body> request{http::verb::post, "/v3/watch", 11};
  request.set(http::field::host, FormatHostPort(endpoint));
  request.set(http::field::content_type, "application/json");
  request.body() = CreateRequest(prefix_, start_revision_);
  request.prepare_payload();
  co_await http::async_write(socket_, request, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Failed(endpoint, "send", ec);

  // The answer is a chunked body of newline-separated JSON messages; chunks
  // need not end at a message boundary, so bytes collect in `pending`.
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  std::string pending;
  auto on_chunk = [&pending](uint64_t, boost::beast::string_view data, error_code&) {
    pending.append(data.data(), data.size());
    return data.size();
  };
  parser.on_chunk_body(on_chunk);
  co_await http::async_read_header(socket_, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Failed(endpoint, "read", ec);
  const unsigned http_status = parser.get().result_int();
  for (;;) {
    co_await http::async_read_some(socket_, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return Failed(endpoint, "read", ec);
    if (http_status != 200) {
      if (!parser.is_done()) continue;
      co_return ErrorAnswer(endpoint, http_status, parser.get().body() + pending);
    }
    Status drained = DrainLines(&pending);
    if (!drained.ok()) co_return drained;
    if (parser.is_done()) co_return Failed(endpoint, "stream ended", error_code());
  }
}

Status EtcdWatch::DrainLines(std::string* pending) {
  size_t start = 0;
  for (size_t nl; (nl = pending->find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view line(pending->data() + start, nl - start);
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
    HALFMQ_RETURN_IF_ERROR(HandleLine(line));
  }
  pending->erase(0, start);
  if (pending->size() > kMaxEtcdAnswerBytes) return Malformed("watch message too large");
  return Status::Ok();
}

Status EtcdWatch::HandleLine(std::string_view line) {
  Result<JsonValue> message = ParseJson(line);
  if (!message.ok()) return Malformed(message.status().message());
  if (std::optional<Status> error = ErrorOf(*message)) return *error;
  const JsonValue* result = message->Find("result");
  if (result == nullptr || !result->is_object()) return Malformed("watch message without result");
  Result<int64_t> revision = HeaderRevision(*result);
  if (!revision.ok()) return revision.status();
  if (!created_) {
    const JsonValue* created = result->Find("created");
    if (created == nullptr || !created->bool_value()) return Malformed("watch not confirmed");
    created_ = true;
    // Start gave up waiting: end without a callback.
    if (!FinishStart(Status::Ok(), *revision)) return Status::Unavailable("etcd watch: abandoned");
  }
  if (const JsonValue* canceled = result->Find("canceled");
      canceled != nullptr && canceled->bool_value()) {
    Result<int64_t> compact = IntMember(*result, "compact_revision");
    compact_revision_ = compact.ok() ? *compact : 0;
    const JsonValue* reason = result->Find("cancel_reason");
    return Status::FailedPrecondition(
        "etcd: watch canceled" +
        (reason != nullptr && !reason->text().empty() ? ": " + reason->text() : std::string()) +
        (compact_revision_ != 0
             ? " (compacted up to revision " + std::to_string(compact_revision_) + ")"
             : std::string()));
  }
  Result<std::vector<WatchEvent>> events = ParseEvents(*result);
  if (!events.ok()) return events.status();
  if (events->empty() || stopping_) return Status::Ok();
  WatchResponse response;
  response.revision = *revision;
  response.events = std::move(*events);
  callback_(response);
  return Status::Ok();
}

}  // namespace halfmq::cluster
