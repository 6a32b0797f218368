// runCommand with harmless children (/bin/sh scripts): never iptables itself.

#include "netpolicy/iptables_restore.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <future>
#include <set>
#include <string>

#include "gtest/gtest.h"

namespace quasar::netpolicy {
namespace {

std::set<int> openFds() {
  std::set<int> fds;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return fds;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') fds.insert(std::stoi(e->d_name));
  }
  fds.erase(::dirfd(dir));
  ::closedir(dir);
  return fds;
}

TEST(RunCommand, FeedsStdinAndReportsExitStatusAndStderr) {
  EXPECT_TRUE(runCommand({"/bin/sh", "-c", "test \"$(cat)\" = hello"}, "hello").ok());
  auto s =
      runCommand({"/bin/sh", "-c", "cat >/dev/null; echo 'line 3: bad rule' >&2; exit 3"}, "input");
  EXPECT_TRUE(absl::IsInternal(s)) << s;
  EXPECT_NE(s.message().find("line 3: bad rule"), std::string::npos) << s;
  EXPECT_NE(s.message().find("3"), std::string::npos) << s;
  EXPECT_TRUE(absl::IsFailedPrecondition(runCommand({"/nonexistent/quasar-tool"}, "")));
}

// The input is larger than a pipe holds while the child first writes more than a pipe holds to
// stderr: both sides must be served at once. A child that never finishes is killed by the test
// (its pid is in a file) so that a failure is a failure, not a hang.
TEST(RunCommand, NoDeadlockWhenTheChildFillsStderrBeforeReadingStdin) {
  const std::string pid_file = ::testing::TempDir() + "/run_command_child.pid";
  const std::string input(4 << 20, 'x');
  auto done = std::async(std::launch::async, [&] {
    return runCommand({"/bin/sh", "-c",
                       "echo $$ >" + pid_file +
                           "; head -c 1048576 /dev/zero | tr '\\0' e >&2; "
                           "test \"$(wc -c)\" -eq 4194304"},
                      input);
  });
  if (done.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << "runCommand deadlocked";
    int pid = 0;
    std::ifstream(pid_file) >> pid;
    if (pid > 0) ::kill(pid, SIGKILL);
  }
  const absl::Status s = done.get();
  EXPECT_TRUE(s.ok()) << s.ToString().substr(0, 200);
}

// A child that exits without reading its input: the caller gets the child's verdict, and is not
// killed by SIGPIPE.
TEST(RunCommand, ChildThatIgnoresItsInputDoesNotKillTheCaller) {
  const std::string input(1 << 20, 'x');
  EXPECT_TRUE(runCommand({"/bin/sh", "-c", "exit 0"}, input).ok());
  EXPECT_TRUE(absl::IsInternal(runCommand({"/bin/sh", "-c", "exit 4"}, input)));
}

TEST(RunCommand, NoDescriptorLeaksWhenTheSecondPipeFails) {
  const std::set<int> before = openFds();
  ASSERT_FALSE(before.empty());
  // Room for exactly two new descriptors: the first pipe, not the second.
  int free_seen = 0;
  rlim_t limit = 0;
  for (int fd = 0; limit == 0; ++fd) {
    if (!before.count(fd) && ++free_seen == 2) limit = fd + 1;
  }
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit low = old;
  low.rlim_cur = limit;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  const absl::Status s = runCommand({"/bin/true"}, "");
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(openFds(), before);
}

// waitpid's answer is checked: when it fails (here: SIGCHLD ignored, so the kernel reaps the
// child itself and waitpid says ECHILD), a failing child is not taken for a success.
TEST(RunCommand, AFailedWaitIsNotASuccess) {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old {};
  ASSERT_EQ(::sigaction(SIGCHLD, &ignore, &old), 0);
  const absl::Status s = runCommand({"/bin/sh", "-c", "exit 1"}, "");
  ::sigaction(SIGCHLD, &old, nullptr);
  EXPECT_FALSE(s.ok());
}

// Output larger than a pipe holds, while a large input is still being fed: no deadlock, all of
// it comes back (iptables-save of a big table).
TEST(RunCommandOutput, ReturnsAllOfStdoutWhileFeedingStdin) {
  const std::string input(1 << 20, 'x');
  auto out =
      runCommandOutput({"/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' y; cat"}, input);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->size(), 300000u + input.size());
  EXPECT_EQ(out->substr(0, 3), "yyy");
  auto bad = runCommandOutput({"/bin/sh", "-c", "echo partial; echo oops >&2; exit 2"}, "");
  EXPECT_TRUE(absl::IsInternal(bad.status())) << bad.status();
  EXPECT_NE(bad.status().message().find("oops"), std::string::npos);
}

}  // namespace
}  // namespace quasar::netpolicy
