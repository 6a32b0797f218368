#pragma once
// quasard's cluster datastore: a revisioned key-value store with compare-and-swap transactions,
// leases and resumable watches, shaped after etcd v3 so that both backends behave alike:
//   - SqliteKvStore: embedded, one node (the default);
//   - EtcdStore: etcd v3 over its gRPC API, for clusters.
// Keys are relative: each backend puts them under its own key prefix, so several clusters can
// share one etcd. Values are opaque bytes (quasard stores JSON).
//
// Threading: every method is thread-safe. Watch callbacks run on a thread of the backend's and
// must not block for long. Errors: Unavailable (retry: the backend is unreachable, retries with
// backoff already happened), NotFound (a lease that expired or never existed), OutOfRange (a
// watch asked for a revision that was compacted away), InvalidArgument (bad input).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace quasar::daemon {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;  // 1 on creation, +1 per change; 0 means absent (in comparisons)
  int64_t lease = 0;
  bool operator==(const KeyValue&) const = default;
};

// One condition of a transaction, on one key.
struct Compare {
  enum class Target { kVersion, kCreateRevision, kModRevision, kValue };
  enum class Result { kEqual, kNotEqual, kGreater, kLess };
  std::string key;
  Target target = Target::kVersion;
  Result result = Result::kEqual;
  int64_t number = 0;  // for the numeric targets
  std::string value;   // for kValue

  static Compare absent(std::string key) {
    return {std::move(key), Target::kVersion, Result::kEqual, 0, ""};
  }
  static Compare modRevisionIs(std::string key, int64_t revision) {
    return {std::move(key), Target::kModRevision, Result::kEqual, revision, ""};
  }
  static Compare valueIs(std::string key, std::string value) {
    return {std::move(key), Target::kValue, Result::kEqual, 0, std::move(value)};
  }
};

// One operation of a transaction.
struct Op {
  enum class Kind { kPut, kDelete, kGet };
  Kind kind = Kind::kGet;
  std::string key;
  std::string value;    // kPut
  int64_t lease = 0;    // kPut: attach to this lease (0: none)
  bool prefix = false;  // kDelete/kGet: every key under `key`

  static Op put(std::string key, std::string value, int64_t lease = 0) {
    return {Kind::kPut, std::move(key), std::move(value), lease, false};
  }
  static Op del(std::string key) { return {Kind::kDelete, std::move(key), "", 0, false}; }
  static Op get(std::string key) { return {Kind::kGet, std::move(key), "", 0, false}; }
};

struct TxnResult {
  bool succeeded = false;
  int64_t revision = 0;
  // For each kGet of the branch that ran, in order, what it found.
  std::vector<std::vector<KeyValue>> gets;
};

struct ListResult {
  std::vector<KeyValue> kvs;  // sorted by key
  int64_t revision = 0;       // the store's revision the list was read at
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;  // for kDelete: the key and the revision of the deletion
};

// A running watch; destroying it stops it (and waits for a callback in flight).
class Watch {
 public:
  virtual ~Watch() = default;
};

// The smallest key greater than every key that starts with `prefix`; empty when there is none
// (the prefix is all 0xff bytes, or empty): then the range is open-ended.
inline std::string prefixRangeEnd(std::string prefix) {
  while (!prefix.empty()) {
    if (static_cast<unsigned char>(prefix.back()) < 0xff) {
      prefix.back() = static_cast<char>(prefix.back() + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return "";
}

// The most operations one transaction may hold in either branch: etcd refuses more (its
// --max-txn-ops, 128 by default; store_etcd_test checks it). Callers with more split them.
inline constexpr size_t kMaxTxnOps = 128;

class Store {
 public:
  // Called with each batch of events, in revision order, exactly once per event, across
  // reconnects; `error` is set (and no more calls follow) when the watch cannot continue,
  // e.g. OutOfRange after a compaction.
  using WatchCallback =
      std::function<void(const std::vector<WatchEvent>& events, const absl::Status& error)>;

  virtual ~Store() = default;
  virtual absl::StatusOr<std::optional<KeyValue>> get(const std::string& key) = 0;
  virtual absl::StatusOr<ListResult> list(const std::string& prefix) = 0;
  // Returns the revision of the change.
  virtual absl::StatusOr<int64_t> put(const std::string& key, const std::string& value,
                                      int64_t lease = 0) = 0;
  // Returns how many keys were deleted (0 or 1).
  virtual absl::StatusOr<int64_t> del(const std::string& key) = 0;
  // All compares hold: `then` runs, else `otherwise`; atomically, at one revision. At most
  // kMaxTxnOps in each branch.
  virtual absl::StatusOr<TxnResult> txn(const std::vector<Compare>& compares,
                                        const std::vector<Op>& then,
                                        const std::vector<Op>& otherwise) = 0;
  // A lease that expires `ttl` after its grant or last keep-alive, deleting its keys.
  virtual absl::StatusOr<int64_t> grantLease(std::chrono::seconds ttl) = 0;
  // NotFound when the lease has expired.
  virtual absl::Status keepAlive(int64_t lease) = 0;
  virtual absl::Status revokeLease(int64_t lease) = 0;
  // Changes under `prefix` from `start_revision` (inclusive; 0 = from now on).
  virtual absl::StatusOr<std::unique_ptr<Watch>> watch(const std::string& prefix,
                                                       int64_t start_revision,
                                                       WatchCallback callback) = 0;
  virtual std::string describe() const = 0;
};

}  // namespace quasar::daemon
