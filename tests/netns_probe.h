#pragma once
// TCP probes between network namespaces from the test process itself (no process per probe):
// a thread enters the namespace, then connects or listens there. For the NetworkPolicy suites.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

namespace quasar::tests {

enum class Probe { kOk, kRejected, kTimeout, kError };

inline const char* name(Probe p) {
  switch (p) {
    case Probe::kOk:
      return "ok";
    case Probe::kRejected:
      return "rejected";
    case Probe::kTimeout:
      return "timeout";
    case Probe::kError:
      return "error";
  }
  return "?";
}

// Runs `f` on a thread that has entered the network namespace at `path` (/run/netns/NAME).
template <class F>
auto inNetns(const std::string& path, F f) -> decltype(f()) {
  decltype(f()) out{};
  std::thread t([&] {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "setns " << path << ": " << strerror(errno);
      if (fd >= 0) ::close(fd);
      return;
    }
    ::close(fd);
    out = f();
  });
  t.join();
  return out;
}

// A TCP listener on 0.0.0.0:port in the namespace (the kernel completes handshakes without an
// accept). The fd stays open for the test's life.
inline int listenIn(const std::string& netns, int port) {
  return inNetns(netns, [&] {
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(s, 4096) != 0) {
      ADD_FAILURE() << "listen: " << strerror(errno);
      ::close(s);
      return -1;
    }
    return s;
  });
}

// One TCP connect from the calling thread's namespace. A policy's REJECT answers at once
// (EHOSTUNREACH), so a denial is an event, not a timeout.
inline Probe connectOnce(const std::string& ip, int port,
                         std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  Probe out = Probe::kError;
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    out = Probe::kOk;
  } else if (errno == EINPROGRESS) {
    pollfd p{s, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) == 0) {
      out = Probe::kTimeout;
    } else {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
      out = err == 0                                                             ? Probe::kOk
            : (err == EHOSTUNREACH || err == ECONNREFUSED || err == ENETUNREACH) ? Probe::kRejected
                                                                                 : Probe::kError;
    }
  }
  ::close(s);
  return out;
}

}  // namespace quasar::tests
