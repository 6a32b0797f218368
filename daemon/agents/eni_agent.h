#pragma once
// The node's side of ENI mode (docs/eni.md), kept in step with the pool (ipam/eni/eni_pool.h):
// every secondary interface the pool uses is configured (routing/eni_interface.h: link by MAC,
// primary address, its own route table), one the pool stopped using is torn down, and quasar's
// policy rules are exactly those routing::planEniRules gives for the handed-out addresses
// ("to pod lookup main", "from pod lookup <its ENI's table>"). A pass runs every `interval`
// and soon after kick(); each pass repairs what was changed behind quasar's back.
//
// podAdded() installs one pod's rules synchronously, before its ADD answers, and first sets up
// its interface when no pass has yet (the first pod on a just attached interface), so its first
// packets leave by the interface that owns its address. A released address needs nothing here:
// the pool kicks a pass on every release (NodeEni wires EniSource's kick to kick()), which
// keeps a held address's rules while its veth is there and drops them once it cools down.
//
// Threading: start() once; stop() or the destructor joins the thread. podAdded,
// kick and stats are thread-safe. Netlink sockets are opened in the namespace of the thread
// that starts the agent (quasard's).

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "conf/ip.h"
#include "ipam/eni/eni_pool.h"
#include "routing/eni_routing.h"
#include "routing/netlink_socket.h"

namespace quasar::daemon {

class EniAgent {
 public:
  struct Options {
    std::chrono::milliseconds interval{std::chrono::seconds(5)};
    int mtu = 0;  // the interfaces' MTU; 0: left as the cloud set it
  };
  struct Stats {
    int passes = 0;
    int interfaces = 0;       // configured in the last pass
    int rules = 0;            // planned in the last pass
    int rules_repaired = 0;   // added or removed by passes (not by podAdded)
    int routes_repaired = 0;  // table routes added or removed by passes
    std::string last_error;   // of the last pass; empty when it succeeded
  };

  // `pool` must outlive the agent. InvalidArgument-free: errors surface in stats() and logs.
  EniAgent(ipam::eni::EniPool& pool, Options options);
  ~EniAgent();
  EniAgent(const EniAgent&) = delete;
  EniAgent& operator=(const EniAgent&) = delete;

  absl::Status start();  // opens the sockets in the caller's namespace; the first pass at once
  void stop();
  void kick();

  // The rules for `ips` (their interfaces per the pool, set up first when needed). An address
  // the pool did not hand out is skipped. Unavailable while the interface's link has not
  // appeared (the cloud attached it a moment ago); other errors name what the kernel refused.
  absl::Status podAdded(const std::vector<conf::IpAddress>& ips);

  // One pass now, on the caller's thread (tests; the agent's thread calls it too).
  absl::Status reconcile();
  Stats stats() const;

 private:
  void run(std::stop_token stop);
  std::vector<routing::Rule> rulesFor(const std::vector<conf::IpAddress>& ips) const;

  ipam::eni::EniPool& pool_;
  const Options options_;
  std::mutex pass_mu_;  // one pass at a time; guards pass_sock_ and configured_
  std::optional<routing::NetlinkSocket> pass_sock_;
  std::map<std::string, routing::EniSpec> configured_;  // by interface id
  std::set<std::string> ready_;  // ids of configured interfaces, under mu_ (podAdded reads it)
  std::mutex pod_mu_;            // guards pod_sock_
  std::optional<routing::NetlinkSocket> pod_sock_;
  mutable std::mutex mu_;
  std::condition_variable_any wake_;
  bool kicked_ = false;
  Stats stats_;
  std::jthread thread_;  // last: joined before the members it uses go
};

// The routing view of an interface of the pool. InvalidArgument for a MAC that does not parse.
absl::StatusOr<routing::EniSpec> eniSpecOf(const ipam::eni::InterfaceInfo& info, int mtu);

}  // namespace quasar::daemon
