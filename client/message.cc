// Message::key() and GenerateMessageId. Layout of the 32 hex digits of an id:
//   [0, 12)  milliseconds since the Unix epoch (48 bits; good until year 10889)
//   [12, 22) 40 random bits drawn once per process
//   [22, 32) 40-bit counter from 0, incremented for every id of this process
//            (it would take 2^40 ids to wrap)
// Ids sort by time first. Within one process they also sort in generation
// order, because the time part never goes backwards (a clock stepped back is
// clamped to the last value used) and the counter always grows. Across
// processes the random part keeps ids apart; two processes collide only if
// they draw the same 40 random bits and reach the same counter in the same ms.
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include "common/mutex.h"
#include "halfmq/message.h"

namespace halfmq {
namespace {

constexpr uint64_t kMask40 = (uint64_t{1} << 40) - 1;
constexpr uint64_t kMask48 = (uint64_t{1} << 48) - 1;

struct IdState {
  Mutex mu;
  pid_t pid GUARDED_BY(mu) = -1;
  uint64_t random GUARDED_BY(mu) = 0;
  uint64_t counter GUARDED_BY(mu) = 0;
  int64_t last_ms GUARDED_BY(mu) = 0;
};

IdState& State() {
  static IdState* state = new IdState();  // never destroyed: usable during exit
  return *state;
}

void AppendHex(uint64_t value, int digits, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out->push_back(kHex[(value >> (4 * i)) & 0xF]);
}

}  // namespace

const std::string& Message::key() const {
  static const std::string* const kNoKey = new std::string();  // never destroyed
  return keys_.empty() ? *kNoKey : keys_.front();
}

std::string GenerateMessageId() {
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  uint64_t ms, random, counter;
  {
    IdState& s = State();
    MutexLock lock(&s.mu);
    // A forked child inherits the parent's random part and counter; drawing
    // again keeps the two processes' ids apart.
    pid_t pid = getpid();
    if (pid != s.pid) {
      std::random_device rd;
      s.random = ((uint64_t{rd()} << 32) ^ uint64_t{rd()}) & kMask40;
      s.pid = pid;
    }
    s.last_ms = std::max(s.last_ms, now_ms);
    ms = static_cast<uint64_t>(s.last_ms) & kMask48;
    random = s.random;
    counter = s.counter;
    s.counter = (s.counter + 1) & kMask40;
  }
  std::string id;
  id.reserve(32);
  AppendHex(ms, 12, &id);
  AppendHex(random, 10, &id);
  AppendHex(counter, 10, &id);
  return id;
}

}  // namespace halfmq
