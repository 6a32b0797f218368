#pragma once
// Group commit: concurrent callers' mutations share one store transaction, so N parallel ADDs
// cost about one fsync instead of N. Thread-safe.

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "ipam/allocation_store.h"

namespace quasar::ipam {

class GroupCommitter {
 public:
  explicit GroupCommitter(AllocationStore& store) : store_(store) {}
  // Blocks until `m` is durable or has failed. When a batch fails, each of its mutations is
  // retried alone, so one bad mutation fails only its own caller.
  absl::Status commit(Mutation m);

  // Counters for status output and benchmarks.
  uint64_t transactions() const;
  uint64_t mutations() const;

 private:
  struct Pending {
    Mutation mutation;
    absl::Status result;
    bool done = false;
  };

  AllocationStore& store_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pending*> queue_;
  bool leader_active_ = false;
  uint64_t transactions_ = 0;
  uint64_t mutations_ = 0;
};

}  // namespace quasar::ipam
