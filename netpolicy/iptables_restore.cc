#include "netpolicy/iptables_restore.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

extern char** environ;

namespace quasar::netpolicy {
namespace {

// What of the child's stderr goes into an error message; the rest is read and dropped.
constexpr size_t kMaxStderr = 16 << 10;

// Owner of one descriptor (netpolicy/ may not use routing's Fd).
class OwnedFd {
 public:
  OwnedFd() = default;
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

absl::Status makePipe(OwnedFd& read_end, OwnedFd& write_end, const char* what) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    const int err = errno;
    return absl::ResourceExhaustedError(absl::StrCat("pipe for ", what, ": ", strerror(err)));
  }
  read_end.reset(p[0]);
  write_end.reset(p[1]);
  return absl::OkStatus();
}

absl::Status spawnError(const std::string& what, int err) {
  return absl::FailedPreconditionError(absl::StrCat(what, ": ", strerror(err)));
}

// Writes `input` to the child's stdin and reads its stderr (and stdout, when `out` is valid) at
// the same time: a child that writes more than a pipe holds before it reads all its input
// (iptables-restore complaining about many lines) would otherwise block on its output while we
// block on its stdin. Closes every descriptor. A child that stops reading (EPIPE) ends the
// feeding; its exit status tells why. stderr is kept up to kMaxStderr, stdout whole.
void exchange(OwnedFd& in, OwnedFd& err, OwnedFd& out, std::string_view input, std::string& text,
              std::string* output) {
  size_t sent = 0;
  if (input.empty()) in.reset();
  if (in.valid() && ::fcntl(in.get(), F_SETFL, ::fcntl(in.get(), F_GETFL) | O_NONBLOCK) != 0) {
    in.reset();
  }
  char buf[16384];
  while (in.valid() || err.valid() || out.valid()) {
    pollfd fds[3] = {{in.get(), POLLOUT, 0}, {err.get(), POLLIN, 0}, {out.get(), POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) {
      const ssize_t n = ::write(in.get(), input.data() + sent, input.size() - sent);
      if (n > 0) sent += static_cast<size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || sent == input.size()) in.reset();
    }
    if (fds[1].revents != 0) {
      const ssize_t n = ::read(err.get(), buf, sizeof(buf));
      if (n > 0) {
        const size_t room = kMaxStderr - std::min(kMaxStderr, text.size());
        text.append(buf, std::min(static_cast<size_t>(n), room));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        err.reset();
      }
    }
    if (fds[2].revents != 0) {
      const ssize_t n = ::read(out.get(), buf, sizeof(buf));
      if (n > 0 && output != nullptr) {
        output->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        out.reset();
      }
    }
  }
  in.reset();
  err.reset();
  out.reset();
}

std::string howItEnded(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
  return absl::StrCat("wait status ", status);
}

// Runs argv; `output` (if not null) receives its stdout, otherwise stdout goes to /dev/null.
absl::Status run(std::vector<std::string> argv, std::string_view input, std::string* output) {
  if (argv.empty()) return absl::InvalidArgumentError("runCommand: no command");
  const std::string name = absl::StrJoin(argv, " ");
  OwnedFd in_read, in_write, err_read, err_write, out_read, out_write;
  if (auto s = makePipe(in_read, in_write, "stdin"); !s.ok()) return s;
  if (auto s = makePipe(err_read, err_write, "stderr"); !s.ok()) return s;
  if (output != nullptr) {
    if (auto s = makePipe(out_read, out_write, "stdout"); !s.ok()) return s;
  }

  posix_spawn_file_actions_t fa;
  if (int rc = posix_spawn_file_actions_init(&fa); rc != 0) return spawnError(argv[0], rc);
  absl::Cleanup destroy = [&fa] { posix_spawn_file_actions_destroy(&fa); };
  for (int rc :
       {posix_spawn_file_actions_adddup2(&fa, in_read.get(), 0),
        output != nullptr ? posix_spawn_file_actions_adddup2(&fa, out_write.get(), 1)
                          : posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0),
        posix_spawn_file_actions_adddup2(&fa, err_write.get(), 2)}) {
    if (rc != 0) return spawnError(argv[0], rc);
  }
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
  in_read.reset();
  err_write.reset();
  out_write.reset();
  if (rc != 0) return spawnError(argv[0], rc);

  // SIGPIPE (the child exits without reading all its input) must not kill the caller: blocked on
  // this thread while it feeds the child (only after the spawn: the child inherits the mask), and
  // taken back if it came.
  sigset_t pipe_only, old_mask;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old_mask);
  absl::Cleanup restore = [&] {
    sigset_t pending;
    if (!sigismember(&old_mask, SIGPIPE) && sigpending(&pending) == 0 &&
        sigismember(&pending, SIGPIPE)) {
      const timespec now{0, 0};
      sigtimedwait(&pipe_only, nullptr, &now);
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  };

  std::string text;
  exchange(in_write, err_read, out_read, input, text, output);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    return absl::InternalError(absl::StrCat(name, ": wait for pid ", pid, ": ", strerror(err)));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(name, ": ", howItEnded(status), ": ", text));
}

}  // namespace

absl::Status runCommand(std::vector<std::string> argv, std::string_view input) {
  return run(std::move(argv), input, nullptr);
}

absl::StatusOr<std::string> runCommandOutput(std::vector<std::string> argv,
                                             std::string_view input) {
  std::string output;
  if (auto s = run(std::move(argv), input, &output); !s.ok()) return s;
  return output;
}

}  // namespace quasar::netpolicy
