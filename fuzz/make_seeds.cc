// Writes the seed corpora of the fuzz targets: valid frames of every
// request and response type, alone and in realistic sequences (create a
// topic, send, receive, ack; a transaction's half send and commit), plus
// inputs that once crashed a target. Usage: make_seeds <corpus dir>; it
// writes <dir>/<target>/<name> and is run by hand when the protocol
// changes (the output is committed under fuzz/corpus).
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "proto/framing.h"

namespace {

using halfmq::v1::Frame;

Frame Request(uint64_t id) {
  Frame f;
  f.set_request_id(id);
  f.set_type(halfmq::v1::REQUEST);
  return f;
}

Frame Response(uint64_t id) {
  Frame f;
  f.set_request_id(id);
  f.set_type(halfmq::v1::RESPONSE);
  return f;
}

void FillMessage(halfmq::v1::Message* m, const std::string& topic, const std::string& id) {
  m->set_topic(topic);
  m->set_message_id(id);
  m->add_keys("order-1");
  m->set_tag("paid");
  (*m->mutable_properties())["region"] = "eu";
  m->set_body("{\"amount\": 42}");
}

std::vector<std::pair<std::string, Frame>> Requests() {
  std::vector<std::pair<std::string, Frame>> out;
  uint64_t id = 1;
  auto add = [&](const std::string& name) -> Frame& {
    out.emplace_back(name, Request(id++));
    return out.back().second;
  };
  auto* hello = add("hello").mutable_hello();
  hello->set_client_id("seed-client");
  hello->set_protocol_version(1);
  hello->add_producer_groups("pg");
  add("create_topic").mutable_create_topic()->set_name("t");
  add("list_topics").mutable_list_topics();
  add("get_broker_stats").mutable_get_broker_stats();
  auto* send = add("send").mutable_send();
  FillMessage(send->add_messages(), "t", "m-1");
  auto* delayed = send->add_messages();
  FillMessage(delayed, "t", "m-2");
  delayed->set_delay_ms(100);
  auto* sharded = add("send_sharded").mutable_send()->add_messages();
  FillMessage(sharded, "t", "m-3");
  sharded->set_sharding_key("customer-7");
  sharded->set_message_group("g1");
  auto* receive = add("receive").mutable_receive();
  receive->set_group("g");
  receive->set_topic("t");
  receive->set_max_messages(16);
  receive->set_tag_filter("paid || shipped");
  auto* ack = add("ack").mutable_ack();
  ack->set_group("g");
  ack->add_receipt_handles(std::string(24, '\x01'));
  auto* nack = add("nack").mutable_nack();
  nack->set_group("g");
  nack->add_receipt_handles(std::string(24, '\x02'));
  nack->set_delay_ms(10);
  nack->set_reason("downstream unavailable");
  auto* change = add("change_invisible").mutable_change_invisible_duration();
  change->set_group("g");
  change->set_receipt_handle(std::string(24, '\x03'));
  change->set_invisible_ms(1000);
  auto* sub = add("create_subscription").mutable_create_subscription();
  sub->set_group("g");
  sub->set_topic("t");
  auto* half = add("send_half").mutable_send_half();
  half->set_txn_id("txn-1");
  half->set_producer_group("pg");
  FillMessage(half->add_messages(), "t", "txn-1-m");
  half->set_fresh_txn(true);
  auto* end = add("end_transaction").mutable_end_transaction();
  end->set_txn_id("txn-1");
  end->set_outcome(halfmq::v1::COMMIT);
  add("list_transactions").mutable_list_transactions()->set_limit(10);
  auto* config = add("set_group_config").mutable_set_group_config();
  config->set_group("g");
  config->mutable_retry_policy()->set_max_attempts(3);
  config->mutable_retry_policy()->mutable_exponential();
  add("get_group_config").mutable_get_group_config()->set_group("g");
  add("list_dead_letters").mutable_list_dead_letters()->set_group("g");
  auto* redrive = add("redrive").mutable_redrive();
  redrive->set_group("g");
  redrive->add_message_ids("m-1");
  auto* get = add("get_message").mutable_get_message();
  get->set_topic("t");
  get->set_message_id("m-1");
  auto* find = add("find_messages").mutable_find_messages();
  find->set_topic("t");
  find->set_key("order-1");
  add("trace_message").mutable_trace_message()->set_message_id("m-1");
  auto* lag = add("get_lag").mutable_get_lag();
  lag->set_group("g");
  lag->set_topic("t");
  return out;
}

std::vector<std::pair<std::string, Frame>> Responses() {
  std::vector<std::pair<std::string, Frame>> out;
  Frame f = Response(1);
  auto* r = f.mutable_send_response()->add_results();
  r->set_message_id("m-1");
  r->set_topic("t");
  r->set_offset(7);
  out.emplace_back("send_response", f);
  f = Response(2);
  auto* m = f.mutable_receive_response()->add_messages();
  FillMessage(m->mutable_message(), "t", "m-1");
  m->set_receipt_handle(std::string(24, '\x04'));
  m->set_attempt(2);
  out.emplace_back("receive_response", f);
  f = Response(3);
  f.mutable_ack_response()->add_results()->set_code(halfmq::v1::Status::OK);
  out.emplace_back("ack_response", f);
  f = Response(4);
  f.mutable_status()->set_code(halfmq::v1::Status::RESOURCE_EXHAUSTED);
  f.mutable_status()->set_message("budget");
  out.emplace_back("error_response", f);
  f = Response(5);
  f.mutable_end_transaction_response()->set_outcome(halfmq::v1::COMMIT);
  f.mutable_end_transaction_response()->set_applied(true);
  out.emplace_back("end_transaction_response", f);
  f = Request(6);
  auto* check = f.mutable_check_transaction();
  check->set_txn_id("txn-1");
  check->set_producer_group("pg");
  check->set_check_number(1);
  FillMessage(check->add_messages(), "t", "txn-1-m");
  out.emplace_back("check_transaction", f);
  f = Response(7);
  f.mutable_list_topics_response()->add_topics()->set_name("t");
  out.emplace_back("list_topics_response", f);
  f = Response(8);
  auto* event = f.mutable_trace_message_response()->add_events();
  event->set_kind(halfmq::v1::TRACE_DELIVERED);
  out.emplace_back("trace_response", f);
  return out;
}

std::string Wire(const Frame& f) {
  std::string out;
  if (!halfmq::proto::AppendFrame(f, 1 << 20, &out)) abort();
  return out;
}

void Write(const std::string& dir, const std::string& name, const std::string& bytes) {
  ::mkdir(dir.c_str(), 0755);
  std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_seeds <corpus dir>\n");
    return 2;
  }
  std::string root = argv[1];
  ::mkdir(root.c_str(), 0755);
  std::string all_requests;
  for (const auto& [name, f] : Requests()) {
    Write(root + "/broker_request_fuzzer", name, Wire(f));
    Write(root + "/frame_decoder_fuzzer", name, Wire(f));
    all_requests += Wire(f);
  }
  Write(root + "/broker_request_fuzzer", "sequence", all_requests);
  Write(root + "/frame_decoder_fuzzer", "sequence", all_requests);
  std::string all_responses;
  for (const auto& [name, f] : Responses()) {
    Write(root + "/client_response_fuzzer", name, Wire(f));
    Write(root + "/frame_decoder_fuzzer", name, Wire(f));
    all_responses += Wire(f);
  }
  Write(root + "/client_response_fuzzer", "sequence", all_responses);
  // The frame reader's inputs: a piece-size prefix (first byte: how many
  // sizes follow, minus one), then a stream of frames of mixed sizes.
  std::string mixed = all_requests + Wire(Request(99)) + all_responses;
  Write(root + "/frame_reader_fuzzer", "small_pieces", std::string("\x02\x01\x07\x30", 4) + mixed);
  Write(root + "/frame_reader_fuzzer", "large_pieces", std::string("\x00\xff", 2) + mixed);
  return 0;
}
