#include "tests/netpol/truth_table.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace quasar::tests::netpol {
namespace {

// Upstream's PrettyPrint: a header of destinations, one row per source, tab-separated.
template <typename Mark>
std::string grid(const std::vector<std::string>& pods, Mark mark) {
  std::ostringstream out;
  out << "-";
  for (const auto& to : pods) out << "\t" << to;
  out << "\n";
  for (size_t f = 0; f < pods.size(); ++f) {
    out << pods[f];
    for (size_t t = 0; t < pods.size(); ++t) out << "\t" << mark(f, t);
    out << "\n";
  }
  return out.str();
}

}  // namespace

Outcome parseOutcome(const std::string& word) {
  if (word == "ok") return Outcome::kOk;
  if (word == "rejected") return Outcome::kRejected;
  if (word == "timeout") return Outcome::kTimeout;
  return Outcome::kError;
}

bool PeerMatch::matches(const std::string& pod_string) const {
  const auto slash = pod_string.find('/');
  return (ns.empty() || ns == pod_string.substr(0, slash)) &&
         (pod.empty() || pod == pod_string.substr(slash + 1));
}

Reachability::Reachability(std::vector<std::string> pods, bool default_expectation)
    : pods_(std::move(pods)),
      expected_(pods_.size(), std::vector<bool>(pods_.size(), default_expectation)) {}

size_t Reachability::index(const std::string& pod) const {
  for (size_t i = 0; i < pods_.size(); ++i) {
    if (pods_[i] == pod) return i;
  }
  std::fprintf(stderr, "Reachability: no pod %s in the table\n", pod.c_str());
  std::abort();
}

void Reachability::expect(const std::string& from, const std::string& to, bool connected) {
  expected_[index(from)][index(to)] = connected;
}

void Reachability::expectAllIngress(const std::string& pod, bool connected) {
  const size_t to = index(pod);
  for (auto& row : expected_) row[to] = connected;
}

void Reachability::expectAllEgress(const std::string& pod, bool connected) {
  expected_[index(pod)].assign(pods_.size(), connected);
}

void Reachability::expectPeer(const PeerMatch& from, const PeerMatch& to, bool connected) {
  for (size_t f = 0; f < pods_.size(); ++f) {
    if (!from.matches(pods_[f])) continue;
    for (size_t t = 0; t < pods_.size(); ++t) {
      if (to.matches(pods_[t])) expected_[f][t] = connected;
    }
  }
}

void Reachability::allowLoopback() {
  for (size_t i = 0; i < pods_.size(); ++i) expected_[i][i] = true;
}

bool Reachability::expected(const std::string& from, const std::string& to) const {
  return expected_[index(from)][index(to)];
}

Comparison compare(const Reachability& expected, const Observation& observed) {
  Comparison c;
  const auto& pods = expected.pods();
  if (observed.pods != pods || observed.outcome.size() != pods.size()) {
    c.wrong = static_cast<int>(pods.size() * pods.size());
    c.report = "the observation's pods differ from the expectation's\n";
    return c;
  }
  auto want = [&](size_t f, size_t t) { return expected.expected(pods[f], pods[t]); };
  auto got = [&](size_t f, size_t t) { return observed.outcome[f][t] == Outcome::kOk; };
  for (size_t f = 0; f < pods.size(); ++f) {
    for (size_t t = 0; t < pods.size(); ++t) {
      if (f == t) {
        ++c.ignored;
      } else if (want(f, t) == got(f, t)) {
        ++c.right;
      } else {
        ++c.wrong;
      }
    }
  }
  std::ostringstream out;
  out << "reachability: correct:" << c.right << ", incorrect:" << c.wrong
      << ", ignored (loopback):" << c.ignored << "\n\nexpected:\n\n"
      << grid(pods, [&](size_t f, size_t t) { return want(f, t) ? "." : "X"; })
      << "\nobserved (T: timed out, E: probe failed):\n\n"
      << grid(pods,
              [&](size_t f, size_t t) {
                switch (observed.outcome[f][t]) {
                  case Outcome::kOk:
                    return ".";
                  case Outcome::kRejected:
                    return "X";
                  case Outcome::kTimeout:
                    return "T";
                  default:
                    return "E";
                }
              })
      << "\ncomparison:\n\n"
      << grid(pods, [&](size_t f, size_t t) {
           return f == t ? "-" : want(f, t) == got(f, t) ? "." : "X";
         });
  c.report = out.str();
  return c;
}

}  // namespace quasar::tests::netpol
