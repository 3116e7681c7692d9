// halfmq-example-payment: publish "order-paid" if and only if the payment is
// committed to a local SQLite database. See "Example: a transactional payment"
// in client/README.md for a walk-through.
//
// Per order:
//   1. txn.Send(order-paid)      the event is stored on the broker, invisible
//   2. SQLite BEGIN/INSERT/COMMIT the local transaction
//   3. txn.Commit()              the event becomes visible to consumers
//      (or txn.Rollback() if the INSERT failed, e.g. the order was paid before)
// If the process dies between 2 and 3, the broker later asks a producer of the
// same group what happened; the checker answers from the database alone:
// COMMIT if the payment row exists, ROLLBACK if it does not.
#include <sqlite3.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "halfmq/halfmq.h"

namespace {

constexpr char kGroup[] = "payment-service";
constexpr char kTopic[] = "order-paid";

// One line on stdout; the checker prints from its own threads.
void Say(const std::string& line) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::cout << line << std::endl;
}

// One SQLite connection. Every thread opens its own, so that the checker sees
// committed rows only, never the main thread's transaction in progress.
class Db {
 public:
  // nullptr on failure, with the reason in *error.
  static std::unique_ptr<Db> Open(const std::string& path, std::string* error) {
    sqlite3* db = nullptr;
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
      *error = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
      sqlite3_close(db);
      return nullptr;
    }
    sqlite3_busy_timeout(db, 5000);  // the checker and the payer share the file
    auto out = std::unique_ptr<Db>(new Db(db));
    if (!out->Exec(
            "CREATE TABLE IF NOT EXISTS payments(order_id TEXT PRIMARY KEY, amount REAL NOT NULL)",
            error)) {
      return nullptr;
    }
    return out;
  }
  ~Db() { sqlite3_close(db_); }

  bool Exec(const char* sql, std::string* error) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return true;
    *error = message != nullptr ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return false;
  }

  // BEGIN; INSERT; COMMIT. Fails (e.g. UNIQUE constraint) without a trace.
  bool InsertPayment(const std::string& order_id, double amount, std::string* error) {
    if (!Exec("BEGIN", error)) return false;
    sqlite3_stmt* insert = nullptr;
    bool ok = sqlite3_prepare_v2(db_, "INSERT INTO payments(order_id, amount) VALUES (?, ?)", -1,
                                 &insert, nullptr) == SQLITE_OK &&
              sqlite3_bind_text(insert, 1, order_id.c_str(), -1, SQLITE_TRANSIENT) == SQLITE_OK &&
              sqlite3_bind_double(insert, 2, amount) == SQLITE_OK &&
              sqlite3_step(insert) == SQLITE_DONE;
    if (!ok) *error = sqlite3_errmsg(db_);
    sqlite3_finalize(insert);
    if (ok && Exec("COMMIT", error)) return true;
    std::string ignored;
    Exec("ROLLBACK", &ignored);
    return false;
  }

  // Whether the payment row exists; nullopt if the database cannot tell.
  std::optional<bool> HasPayment(const std::string& order_id) {
    sqlite3_stmt* select = nullptr;
    std::optional<bool> found;
    if (sqlite3_prepare_v2(db_, "SELECT 1 FROM payments WHERE order_id = ?", -1, &select,
                           nullptr) == SQLITE_OK &&
        sqlite3_bind_text(select, 1, order_id.c_str(), -1, SQLITE_TRANSIENT) == SQLITE_OK) {
      int rc = sqlite3_step(select);
      if (rc == SQLITE_ROW) found = true;
      if (rc == SQLITE_DONE) found = false;
    }
    sqlite3_finalize(select);
    return found;
  }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// The checker: decides from the database alone, never from memory, because
// it may run in a different process from the one that began the transaction.
halfmq::TxnState CheckPayment(const std::string& db_path, const halfmq::CheckRequest& check) {
  const std::string& order_id = check.message().key();
  std::string error;
  std::unique_ptr<Db> db = Db::Open(db_path, &error);
  std::optional<bool> paid = db ? db->HasPayment(order_id) : std::nullopt;
  halfmq::TxnState answer = !paid.has_value() ? halfmq::TxnState::kUnknown
                            : *paid           ? halfmq::TxnState::kCommit
                                              : halfmq::TxnState::kRollback;
  Say("check #" + std::to_string(check.check_number) + " of txn " + check.txn_id + " (order " +
      order_id + "): " +
      (!paid.has_value() ? "database unavailable, answering UNKNOWN (ask again later)"
       : *paid           ? "payment row found, answering COMMIT"
                         : "no payment row, answering ROLLBACK"));
  return answer;
}

// Runs one payment. Returns the exit code.
int Pay(halfmq::TransactionProducer& producer, Db& db, const std::string& order_id, double amount,
        bool crash_after_db_commit) {
  char json[256];  // order ids are short and plain (checked in main)
  std::snprintf(json, sizeof(json), "{\"order_id\":\"%s\",\"amount\":%.2f}", order_id.c_str(),
                amount);
  halfmq::Transaction txn = producer.Begin();
  auto half = txn.Send(halfmq::Message(kTopic).Key(order_id).Body(json));
  if (!half.ok()) {
    Say("could not store the event: " + half.status().ToString() + "; nothing was paid");
    return 1;
  }
  Say("1. event stored on the broker, invisible to consumers (txn " + txn.id() + ")");

  std::string error;
  if (!db.InsertPayment(order_id, amount, &error)) {
    Say("2. payment for order " + order_id + " NOT recorded: " + error);
    halfmq::Status rolled_back = txn.Rollback();
    Say(rolled_back.ok() ? "3. rolled back: the event is discarded, no consumer will see it"
                         : "3. rollback failed (" + rolled_back.ToString() +
                               "); the broker will check back and the checker will roll back");
    return 1;
  }
  Say("2. payment for order " + order_id + " committed to the database");

  if (crash_after_db_commit) {
    Say("simulating a crash: exiting before txn.Commit(), the broker still holds the event");
    _exit(3);
  }
  auto committed = txn.Commit();
  if (!committed.ok()) {
    Say("3. commit failed (" + committed.status().ToString() +
        "); the broker will check back and the checker will commit");
    return 1;
  }
  const halfmq::SendReceipt* r = committed->empty() ? nullptr : &committed->front();
  Say("3. committed: the event is now visible to consumers" +
      (r == nullptr ? std::string()
                    : " (queue " + std::to_string(r->queue_id) + ", offset " +
                          std::to_string(r->offset) + ")"));
  return 0;
}

int Usage(const std::string& why) {
  std::cerr << "halfmq-example-payment: " << why << "\n"
            << "usage: halfmq-example-payment [--broker HOST:PORT] --db PATH\n"
            << "         [--order ID --amount X [--crash-after-db-commit]] [--serve-checks-ms MS]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const char* env_broker = std::getenv("HALFMQ_BROKER");
  halfmq::ClientOptions options;
  options.broker = env_broker != nullptr && *env_broker != '\0' ? env_broker : "127.0.0.1:7480";
  std::string db_path, order_id;
  double amount = 0;
  bool crash = false;
  long serve_ms = 0;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--crash-after-db-commit") {
      crash = true;
      continue;
    }
    if (i + 1 >= argc) return Usage("unknown flag or missing value: " + flag);
    std::string value = argv[++i];
    if (flag == "--broker") {
      options.broker = value;
    } else if (flag == "--db") {
      db_path = value;
    } else if (flag == "--order") {
      order_id = value;
    } else if (flag == "--amount") {
      amount = std::strtod(value.c_str(), nullptr);
    } else if (flag == "--serve-checks-ms") {
      serve_ms = std::strtol(value.c_str(), nullptr, 10);
    } else {
      return Usage("unknown flag: " + flag);
    }
  }
  if (db_path.empty()) return Usage("--db is required");
  if (order_id.empty() && serve_ms <= 0) return Usage("give --order, --serve-checks-ms, or both");
  if (order_id.size() > 64) return Usage("order ids here are at most 64 bytes");
  for (char c : order_id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return Usage("order ids here are letters, digits, '-' and '_'");
    }
  }

  std::string error;
  std::unique_ptr<Db> db = Db::Open(db_path, &error);
  if (!db) {
    std::cerr << "cannot open " << db_path << ": " << error << "\n";
    return 1;
  }
  halfmq::TransactionProducerOptions txn_options;
  // No check before the local transaction (a single INSERT here) has surely
  // finished; a check arriving earlier would find no row and roll back.
  txn_options.check_immunity = std::chrono::seconds(2);
  txn_options.on_check_done = [](const halfmq::CheckRequest& check, halfmq::TxnState verdict,
                                 const halfmq::Status& sent) {
    if (verdict == halfmq::TxnState::kUnknown) return;
    Say(sent.ok() ? "   the broker " +
                        std::string(verdict == halfmq::TxnState::kCommit ? "committed"
                                                                          : "rolled back") +
                        " txn " + check.txn_id
                  : "   telling the broker failed (" + sent.ToString() + "); it will ask again");
  };
  auto producer = halfmq::TransactionProducer::Connect(
      options, kGroup,
      [db_path](const halfmq::CheckRequest& check) { return CheckPayment(db_path, check); },
      txn_options);
  if (!producer.ok()) {
    std::cerr << "cannot connect: " << producer.status() << "\n";
    return 1;
  }
  int code = 0;
  if (!order_id.empty()) code = Pay(**producer, *db, order_id, amount, crash);
  if (serve_ms > 0) {
    Say("answering the broker's checks for group " + std::string(kGroup) + " for " +
        std::to_string(serve_ms) + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds(serve_ms));
  }
  (*producer)->Stop();
  return code;
}
