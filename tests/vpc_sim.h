#pragma once
// vpc-sim, the emulated VPC (a test stand-in for EC2: tests/vpc/vpc_sim.py, docs/vpc-sim.md), for
// C++ tests. start() writes its config to a temporary directory, starts it (it creates the VPC
// router namespace, moves itself there and builds every instance's namespace and primary
// interface), and waits until its control socket answers. The process dies with the test
// (tests/spawn.h); the destructor stops it (SIGTERM: it removes what it made), deletes the
// namespaces of the config that did not exist before start (also after a crash of vpc-sim)
// and the directory. Names carry a test-bed prefix (bedPrefix), so namespaces left by a test
// killed outright are reaped by the next bed. Needs root; run inside tests/in-netns.sh.
//
// Threading: the control helpers may be called from any thread (each call has its own
// connection); start/stop from the test's main thread.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace quasar::tests {

class VpcSim {
 public:
  // The example config's region and credentials (docs/vpc-sim.md).
  static constexpr char kRegion[] = "us-sim-1";
  static constexpr char kAccessKey[] = "AKIDVPCSIMEXAMPLE01";
  static constexpr char kSecretKey[] = "vpc-sim/secret+key/EXAMPLE";
  static constexpr char kSessionToken[] = "vpc-sim-session-token";

  struct Credentials {
    std::string access_key = kAccessKey;
    std::string secret_key = kSecretKey;
    std::string session_token = kSessionToken;
  };

  struct Options {
    nlohmann::json config;  // vpc-sim's config; exampleConfig() makes one
    bool tls = false;       // EC2 API over HTTPS, self-signed (openssl CLI); see caCert()
    bool verbose = false;   // vpc-sim logs every HTTP request to its log
  };

  // A VPC 10.30.0.0/16 in `prefix`'s namespaces: router "<prefix>-vpcr"; subnets "subnet-a"
  // (10.30.1.0/24) and "subnet-b" (10.30.2.0/24), both in us-sim-1a; instance type "sim.large"
  // (3 interfaces, 4 IPv4 addresses each); `nodes` instances "i-0000000000000000N" of that
  // type in "<prefix>-nodeN", primary 10.30.1.(10+N) in subnet-a; one VPC host "<prefix>-host"
  // at 10.30.2.50; EC2 API on port 8080, IMDS on 80 (also at 169.254.169.254).
  static nlohmann::json exampleConfig(const std::string& prefix, int nodes = 2);
  static std::string instanceId(int n);  // exampleConfig's node n (1-based)

  static absl::StatusOr<std::unique_ptr<VpcSim>> start(Options options);
  ~VpcSim();
  VpcSim(const VpcSim&) = delete;
  VpcSim& operator=(const VpcSim&) = delete;

  // SIGTERM and wait (vpc-sim removes its links and namespaces); then the fixture deletes what
  // is left of the config's namespaces that it did not find at start. Idempotent.
  absl::Status stop();

  const nlohmann::json& config() const { return config_; }
  const std::string& dir() const { return dir_; }
  std::string log() const;
  std::string routerNs() const;
  std::string instanceNs(const std::string& instance_id) const;
  std::string instanceIp(const std::string& instance_id) const;
  // The namespace of the VPC host `name` ("host" in exampleConfig), "" when none.
  std::string vpcHostNs(const std::string& name) const;
  // The EC2 endpoint as the instance reaches it: its subnet's router address, e.g.
  // "http://10.30.1.1:8080" ("https://..." with tls).
  std::string endpoint(const std::string& instance_id) const;
  // "http://169.254.169.254:<imdsPort>" (reached through the instance's default route).
  std::string imdsEndpoint() const;
  // The API's self-signed certificate (tls), for the client's CA file.
  std::string caCert() const { return dir_ + "/api.crt"; }

  // --- EC2 from an instance (curl --aws-sigv4 inside its namespace) ---
  struct HttpResult {
    long status = 0;
    std::string body;
  };
  // POSTs `params` ("Action=...&Name=value", values URL-encoded; Version is added) signed with
  // `creds`; an error only when curl itself fails.
  absl::StatusOr<HttpResult> ec2(const std::string& instance_id, const std::string& params,
                                 const Credentials& creds) const;
  absl::StatusOr<HttpResult> ec2(const std::string& instance_id, const std::string& params) const {
    return ec2(instance_id, params, Credentials{});
  }
  // The command ec2() runs (prints the body, a newline and the HTTP status), e.g. to start it
  // with spawnBackground and kill it while vpc-sim holds its call. Empty: no such instance.
  std::vector<std::string> ec2Argv(const std::string& instance_id, const std::string& params,
                                   const Credentials& creds) const;
  std::vector<std::string> ec2Argv(const std::string& instance_id,
                                   const std::string& params) const {
    return ec2Argv(instance_id, params, Credentials{});
  }
  // The text of the first <tag>...</tag> in `xml` ("" when none).
  static std::string xmlValue(const std::string& xml, const std::string& tag);

  // --- the control socket (docs/vpc-sim.md) ---
  // One request; `body` null: none. 2xx: the parsed JSON; 408: DeadlineExceeded; else an
  // error with vpc-sim's message.
  absl::StatusOr<nlohmann::json> control(
      const std::string& method, const std::string& path, const nlohmann::json& body = nullptr,
      std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  // Interfaces, instances and subnets as vpc-sim sees them.
  absl::StatusOr<nlohmann::json> state() const;
  // {"calls": {action: n}, "byCaller": {instance: {action: n}}, "throttled": {action: n},
  //  "errors": {action: {code: n}}, "imds": {instance: n}}.
  absl::StatusOr<nlohmann::json> calls() const;
  // Calls of `action` that arrived (from `instance_id`, or from anyone when empty).
  absl::StatusOr<int> callCount(const std::string& action,
                                const std::string& instance_id = "") const;
  absl::Status resetCalls() const;
  // The next `n` calls (of `action`, or of any action when empty) answer RequestLimitExceeded.
  absl::Status throttleNext(int n, const std::string& action = "") const;
  // Every call of `action` answers RequestLimitExceeded until clearThrottle().
  absl::Status throttleAlways(const std::string& action) const;
  absl::Status clearThrottle() const;
  // Every call of `action` ("*": all; "IMDS": the metadata service) waits `ms` first; 0: off.
  absl::Status setLatency(int ms, const std::string& action = "*") const;
  // Holds: the next call of `action` is held open before it takes effect (kBefore) or after it
  // took effect, before its answer (kAfter), until release(). A released call whose caller
  // is gone still takes effect, as on EC2.
  enum class Phase { kBefore, kAfter };
  absl::StatusOr<std::string> holdNext(const std::string& action, Phase phase) const;
  // Waits until the hold took a call; returns the call ({"action", "caller", "params"}).
  absl::StatusOr<nlohmann::json> waitHeld(const std::string& hold_id,
                                          std::chrono::milliseconds timeout) const;
  absl::Status release(const std::string& hold_id) const;
  // Waits until `count` calls of `action` have arrived; returns how many did.
  absl::StatusOr<int> waitForCalls(const std::string& action, int count,
                                   std::chrono::milliseconds timeout) const;
  // {"interfaces": {eni: {"fromInstance": {"packets", "bytes"}, "toInstance": {...},
  //  "routerLink", "instanceLink", "instance"}}, "links": {...}, "rpFilterDrops": n}.
  absl::StatusOr<nlohmann::json> counters() const;
  // Packets the router dropped by reverse-path filtering (the source/destination check).
  absl::StatusOr<long> rpFilterDrops() const;

 private:
  VpcSim() = default;
  absl::Status waitReady(std::chrono::milliseconds timeout);
  std::vector<std::string> namespaces() const;

  nlohmann::json config_;
  bool tls_ = false;
  std::string dir_;
  std::string socket_;
  pid_t pid_ = -1;
  std::vector<std::string> preexisting_;  // namespaces found at start: never deleted here
};

}  // namespace quasar::tests
