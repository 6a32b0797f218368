#include "ipam/group_committer.h"

namespace quasar::ipam {

absl::Status GroupCommitter::commit(Mutation m) {
  Pending mine{std::move(m), absl::OkStatus(), false};
  std::unique_lock lock(mu_);
  queue_.push_back(&mine);
  while (!mine.done) {
    if (leader_active_) {
      cv_.wait(lock);
      continue;
    }
    // Become the leader: take everything queued so far and commit it as one transaction.
    leader_active_ = true;
    std::vector<Pending*> batch;
    batch.swap(queue_);
    lock.unlock();
    std::vector<Mutation> mutations;
    mutations.reserve(batch.size());
    for (const auto* p : batch) mutations.push_back(p->mutation);
    absl::Status s = store_.commit(mutations);
    uint64_t txns = 1;
    if (!s.ok() && batch.size() > 1) {
      for (auto* p : batch) {
        p->result = store_.commit(std::span(&p->mutation, 1));
        ++txns;
      }
    } else {
      for (auto* p : batch) p->result = s;
    }
    lock.lock();
    transactions_ += txns;
    mutations_ += batch.size();
    for (auto* p : batch) p->done = true;
    leader_active_ = false;
    cv_.notify_all();
  }
  return mine.result;
}

uint64_t GroupCommitter::transactions() const {
  std::lock_guard lock(mu_);
  return transactions_;
}

uint64_t GroupCommitter::mutations() const {
  std::lock_guard lock(mu_);
  return mutations_;
}

}  // namespace quasar::ipam
