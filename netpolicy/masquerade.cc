#include "netpolicy/masquerade.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

extern char** environ;

namespace quasar::netpolicy {
namespace {

// Runs argv with `input` on stdin; returns its exit status and stderr.
absl::Status run(std::vector<std::string> argv, const std::string& input) {
  int in[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(err[1]);
  if (rc != 0) {
    close(in[1]);
    close(err[0]);
    return absl::FailedPreconditionError(absl::StrCat(argv[0], ": ", strerror(rc)));
  }
  if (!input.empty() && write(in[1], input.data(), input.size()) < 0) {
    // The child's exit status says what went wrong.
  }
  close(in[1]);
  std::string text;
  char buf[512];
  for (ssize_t n; (n = read(err[0], buf, sizeof(buf))) > 0;) text.append(buf, n);
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(absl::StrJoin(argv, " "), ": ", text));
}

}  // namespace

std::string masqueradeRules(const std::vector<conf::IpPrefix>& cidrs) {
  std::string r = absl::StrCat("*nat\n:", kMasqChain, " - [0:0]\n-F ", kMasqChain, "\n");
  // Pod to pod (anywhere in the cluster) keeps its source; everything else from a pod is
  // masqueraded.
  for (const auto& c : cidrs) {
    absl::StrAppend(&r, "-A ", kMasqChain, " -d ", c.network().toString(), " -j RETURN\n");
  }
  for (const auto& c : cidrs) {
    absl::StrAppend(
        &r, "-A ", kMasqChain, " -s ", c.network().toString(),
        " -m comment --comment \"quasar: pod traffic leaving the cluster\" -j MASQUERADE\n");
  }
  r += "COMMIT\n";
  return r;
}

absl::Status ensureMasquerade(const std::vector<conf::IpPrefix>& cidrs) {
  if (auto s = run({"iptables-restore", "--noflush", "--wait"}, masqueradeRules(cidrs)); !s.ok()) {
    return s;
  }
  // The jump, once.
  if (run({"iptables", "--wait", "-t", "nat", "-C", "POSTROUTING", "-j", kMasqChain}, "").ok()) {
    return absl::OkStatus();
  }
  return run({"iptables", "--wait", "-t", "nat", "-A", "POSTROUTING", "-j", kMasqChain}, "");
}

absl::Status removeMasquerade() {
  while (run({"iptables", "--wait", "-t", "nat", "-D", "POSTROUTING", "-j", kMasqChain}, "").ok()) {
  }
  run({"iptables", "--wait", "-t", "nat", "-F", kMasqChain}, "").IgnoreError();
  run({"iptables", "--wait", "-t", "nat", "-X", kMasqChain}, "").IgnoreError();
  return absl::OkStatus();
}

}  // namespace quasar::netpolicy
