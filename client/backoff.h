// Exponential backoff with full jitter, used for reconnects, call retries and
// the push consumer's receive loop. Full jitter (a uniform delay between 0 and
// the exponential ceiling) spreads a fleet of clients that all lost the same
// broker, instead of having them retry in lockstep. Thread-safe.
#ifndef HALFMQ_CLIENT_BACKOFF_H_
#define HALFMQ_CLIENT_BACKOFF_H_

#include <chrono>
#include <cstdint>

namespace halfmq::client {

// Ceiling of the delay before retry number `attempt` (0 for the first retry):
// initial * 2^attempt, capped at max. Never overflows; a negative attempt is
// treated as 0.
std::chrono::milliseconds BackoffCeiling(int attempt, std::chrono::milliseconds initial,
                                         std::chrono::milliseconds max);

// Maps a uniformly random 64-bit value to a delay in [0, ceiling]. Split out
// from BackoffDelay so tests can check the bounds with chosen values.
std::chrono::milliseconds FullJitter(std::chrono::milliseconds ceiling, uint64_t random);

// FullJitter(BackoffCeiling(...)) with a per-thread random source.
std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max);

}  // namespace halfmq::client

#endif  // HALFMQ_CLIENT_BACKOFF_H_
