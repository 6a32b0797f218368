#pragma once
// Truth tables of the NetworkPolicy conformance suite, as upstream Kubernetes' e2e netpol suite
// has them (test/e2e/network/netpol: truthtable.go, reachability.go): the expected connectivity
// of every ordered pair of pods ("x/a" -> "y/b"), the observed one, and their comparison printed
// as upstream's grid. Pure values; thread-compatible. Test-only.
//
// Grid marks, as upstream prints them: in the expected and observed grids "." = connected and
// "X" = blocked (observed: "T" = blocked by a timeout instead of a rejection, "E" = the probe
// failed); in the comparison "." = as expected, "X" = wrong, "-" = not compared (a pod to
// itself: its traffic never leaves the pod, and upstream ignores loopback too).

#include <map>
#include <string>
#include <vector>

namespace quasar::tests::netpol {

// A probe's result (netpol_probe's words).
enum class Outcome { kOk, kRejected, kTimeout, kError };
Outcome parseOutcome(const std::string& word);

// Matches pods by namespace and name; an empty field matches every value (upstream's Peer).
struct PeerMatch {
  std::string ns;
  std::string pod;
  bool matches(const std::string& pod_string) const;  // "ns/pod"
};

class Reachability {
 public:
  // `pods` as "ns/name", in the order of the grid's rows and columns.
  Reachability(std::vector<std::string> pods, bool default_expectation);

  void expect(const std::string& from, const std::string& to, bool connected);
  // Every pod -> `pod` (its ingress).
  void expectAllIngress(const std::string& pod, bool connected);
  // `pod` -> every pod (its egress).
  void expectAllEgress(const std::string& pod, bool connected);
  void expectPeer(const PeerMatch& from, const PeerMatch& to, bool connected);
  void allowLoopback();

  bool expected(const std::string& from, const std::string& to) const;
  const std::vector<std::string>& pods() const { return pods_; }

 private:
  size_t index(const std::string& pod) const;  // aborts on an unknown pod (a broken test)
  std::vector<std::string> pods_;
  std::vector<std::vector<bool>> expected_;  // [from][to]
};

// What one probe round saw: outcome[from][to] in the order of `pods`.
struct Observation {
  std::vector<std::string> pods;
  std::vector<std::vector<Outcome>> outcome;
};

struct Comparison {
  int right = 0;
  int wrong = 0;
  int ignored = 0;  // loopback pairs
  // "reachability: correct:N, incorrect:M" and the expected, observed and comparison grids.
  std::string report;
};

// Connected = the probe said ok. Pairs of a pod with itself are not compared.
Comparison compare(const Reachability& expected, const Observation& observed);

}  // namespace quasar::tests::netpol
