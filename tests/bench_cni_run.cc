#include "tests/bench_cni_run.h"

#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>

extern char** environ;

namespace quasar::bench {

double invoke(const Plugin& p, const std::string& cmd, const std::string& container,
              const std::string& netns) {
  if (p.netns_fd >= 0 && setns(p.netns_fd, CLONE_NEWNET) != 0) return -1;
  std::vector<std::string> env{"CNI_COMMAND=" + cmd,    "CNI_CONTAINERID=" + container,
                               "CNI_NETNS=" + netns,    "CNI_IFNAME=eth0",
                               "CNI_PATH=/usr/lib/cni", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  if (!p.cni_args.empty()) env.push_back("CNI_ARGS=" + p.cni_args);
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  char* argv[] = {const_cast<char*>(p.binary.c_str()), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, p.conf_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, p.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid;
  int status = 0;
  const bool spawned = posix_spawn(&pid, argv[0], &fa, nullptr, argv, cenv.data()) == 0;
  if (spawned) waitpid(pid, &status, 0);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  posix_spawn_file_actions_destroy(&fa);
  if (!spawned || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return ms;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t idx = std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5));
  return v[idx];
}

}  // namespace quasar::bench
