// ProducerRegistry: which live connections serve transaction checks for
// which producer group, and how many checks each may be sent.
//
// A connection joins a group by naming it in Hello or by sending a half
// message for it, and leaves when it closes. Check-back picks connections
// round robin, skipping those at their outstanding-check bound and those
// whose last check failed or timed out (for a cool-down, while others are
// available), and draws from a per-group token bucket so that a producer
// fleet coming back after an outage is not stormed with its backlog.
//
// A connection serves at most kMaxProducerGroupsPerConnection groups (Hello
// and SendHalf together). Joining and leaving cost O(1) per group (hash maps,
// and a swap-remove from a group's member list), so a producer with many
// groups or a group with many producers never costs a scan on the io thread.
//
// Thread-safe.
#ifndef HALFMQ_BROKER_PRODUCER_REGISTRY_H_
#define HALFMQ_BROKER_PRODUCER_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "broker/responder.h"
#include "common/ids.h"
#include "common/mutex.h"
#include "common/status.h"

namespace halfmq::broker {

struct ProducerRegistryOptions {
  uint32_t max_checks_per_connection = 32;
  double check_rate_per_group = 500;  // checks per second; burst of one second
  int64_t failing_cooldown_ms = 30000;
};

class ProducerRegistry {
 public:
  explicit ProducerRegistry(ProducerRegistryOptions options) : options_(options) {}

  enum class Join { kJoined, kAlreadyMember, kOverLimit };
  // Adds `conn` to `group` (idempotent). `advertised_max` (from Hello; 0 =
  // no preference) can only lower the broker's per-connection bound.
  // kOverLimit: the connection already serves the most groups it may; it is
  // not added and nothing changes (the first refusal per connection is
  // logged).
  Join Register(const std::shared_ptr<Connection>& conn, const ProducerGroup& group,
                uint32_t advertised_max) EXCLUDES(mu_);
  // Adds `conn` to every group of `groups`, or to none when that would take
  // it over kMaxProducerGroupsPerConnection. Names are not validated here.
  // Errors: INVALID_ARGUMENT naming the limit (nothing changed).
  Status RegisterAll(const std::shared_ptr<Connection>& conn,
                     const std::vector<ProducerGroup>& groups, uint32_t advertised_max)
      EXCLUDES(mu_);
  // Removes the connection from its groups: O(its groups).
  void Unregister(uint64_t connection_id) EXCLUDES(mu_);

  enum class Pick { kPicked, kNoProducer, kBusy, kRateLimited };
  // Chooses a connection of `group` for one check and reserves a slot and a
  // token. Release() must follow every kPicked.
  Pick PickConnection(const ProducerGroup& group, int64_t now_ms,
                      std::shared_ptr<Connection>* out) EXCLUDES(mu_);
  // Frees the slot of a check; `failed` (timeout or error) starts the
  // connection's cool-down.
  void Release(uint64_t connection_id, bool failed, int64_t now_ms) EXCLUDES(mu_);
  // Starts a connection's cool-down without freeing a slot (a check timed
  // out; its slot stays taken until the answer or the close).
  void MarkFailing(uint64_t connection_id, int64_t now_ms) EXCLUDES(mu_);

  // Groups with at least one live connection, sorted.
  std::vector<ProducerGroup> Groups() const EXCLUDES(mu_);
  bool HasProducer(const ProducerGroup& group) const EXCLUDES(mu_);
  // Checks `group` could take right now (tokens and free slots).
  size_t Capacity(const ProducerGroup& group, int64_t now_ms) EXCLUDES(mu_);
  // Outstanding checks of one connection (tests and stats).
  uint32_t Outstanding(uint64_t connection_id) const EXCLUDES(mu_);
  // Groups one connection serves (tests).
  size_t GroupCount(uint64_t connection_id) const EXCLUDES(mu_);

 private:
  struct Conn {
    std::weak_ptr<Connection> connection;
    uint32_t max = 0;
    uint32_t outstanding = 0;
    int64_t failing_until_ms = 0;
    std::unordered_set<ProducerGroup> groups;
    bool refusal_logged = false;
  };
  struct Group {
    std::vector<uint64_t> members;                  // connection ids
    std::unordered_map<uint64_t, size_t> position;  // id -> index in members
    size_t next = 0;                                // round-robin position
    double tokens = 0;
    int64_t refilled_ms = 0;
  };
  // The connection's entry, created (with the broker's bound) if new.
  Conn& ConnFor(const std::shared_ptr<Connection>& conn, uint32_t advertised_max) REQUIRES(mu_);
  // Adds a connection known not to be a member of `group` yet.
  void AddMember(uint64_t connection_id, Conn* c, const ProducerGroup& group) REQUIRES(mu_);
  void Refill(Group* g, int64_t now_ms) REQUIRES(mu_);

  const ProducerRegistryOptions options_;
  mutable Mutex mu_;
  std::unordered_map<uint64_t, Conn> conns_ GUARDED_BY(mu_);
  std::unordered_map<ProducerGroup, Group> groups_ GUARDED_BY(mu_);
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_PRODUCER_REGISTRY_H_
