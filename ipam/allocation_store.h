#pragma once
// Durable home of a node's allocations. The in-memory allocators are rebuilt from it at start-up,
// so what it holds is the truth after a crash.

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ipam/allocation.h"

namespace quasar::ipam {

struct Mutation {
  enum class Kind { kPut, kDelete };
  Kind kind;
  // kPut: the whole allocation. kDelete: its attachment and ips.
  Allocation allocation;
  // kDelete: when the addresses were released (for the cool-down after a restart).
  int64_t released_unix_ms = 0;
};

struct StoreSnapshot {
  std::vector<Allocation> allocations;
  // Addresses released at or after the `released_since` given to load(), with the time.
  std::vector<std::pair<conf::IpAddress, int64_t>> releases;
};

// Implementations are thread-safe.
class AllocationStore {
 public:
  virtual ~AllocationStore() = default;
  virtual absl::StatusOr<StoreSnapshot> load(int64_t released_since_unix_ms) = 0;
  // Applies the batch atomically and durably: when it returns OK everything is on disk; on error
  // nothing of it is. A put whose address another allocation holds fails the batch.
  virtual absl::Status commit(std::span<const Mutation> batch) = 0;
  // Where the data lives, for status output.
  virtual std::string describe() const = 0;
};

}  // namespace quasar::ipam
