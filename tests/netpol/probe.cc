// netpol_probe: the servers and the prober of the NetworkPolicy conformance suite (tests/netpol/).
// libc only, so it runs in any pod namespace (`ip netns exec`).
//
//   netpol_probe serve [--tcp 80,81] [--udp 80,81] [--sctp 80,81] [--ready-file PATH]
//       Listens on every port (IPv4 and IPv6 where the namespace has it): TCP and SCTP accept and
//       close at once, UDP echoes each datagram. Writes PATH once every socket is bound (the
//       suite waits for that file, not for a time). Runs until killed; exit 1 when a socket could
//       not be opened or bound (the reason on stderr).
//   netpol_probe connect --proto tcp|udp|sctp --to IP --port N [--timeout-ms T]
//       One probe; prints one word, exit code 0 ok, 1 rejected, 2 timeout, 3 error.
//   netpol_probe matrix [--timeout-ms T]
//       Reads lines "PROTO IP PORT [NETNS]" on stdin (NETNS: a path such as /run/netns/NAME; the
//       socket is opened in that namespace, else in the caller's), runs every probe at once
//       (non-blocking sockets and one poll loop) and prints, in input order, each input line
//       followed by its result word. Exit 0 when every line could be read.
//
// Results: `ok` (TCP/SCTP: the handshake completed; UDP: the echo came back), `rejected` (the
// kernel answered: ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EACCES, EPERM, ECONNRESET,
// ENOPROTOOPT; quasar's policy REJECTs with icmp-admin-prohibited, which a connect or a connected
// UDP socket's recv sees as EHOSTUNREACH at once), `timeout` (no answer before the deadline),
// `error:<reason>` (the probe could not be made, e.g. a protocol the kernel lacks).

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kUdpResend{200};

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

enum class Proto { kTcp, kUdp, kSctp };
enum class Result { kPending, kOk, kRejected, kTimeout, kError };

bool parseProto(const std::string& s, Proto* p) {
  if (s == "tcp")
    *p = Proto::kTcp;
  else if (s == "udp")
    *p = Proto::kUdp;
  else if (s == "sctp")
    *p = Proto::kSctp;
  else
    return false;
  return true;
}

int ipProto(Proto p) {
  return p == Proto::kTcp ? IPPROTO_TCP : p == Proto::kUdp ? IPPROTO_UDP : IPPROTO_SCTP;
}
int sockType(Proto p) { return p == Proto::kUdp ? SOCK_DGRAM : SOCK_STREAM; }

// The answer of a kernel that refused the connection, as opposed to a failure of the probe.
bool isRejection(int err) {
  switch (err) {
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EACCES:
    case EPERM:
    case ECONNRESET:
    case ENOPROTOOPT:
      return true;
    default:
      return false;
  }
}

bool parseAddress(const std::string& ip, int port, sockaddr_storage* ss, socklen_t* len) {
  std::memset(ss, 0, sizeof(*ss));
  auto* v4 = reinterpret_cast<sockaddr_in*>(ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (port < 1 || port > 65535) return false;
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof(*v4);
    return true;
  }
  if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof(*v6);
    return true;
  }
  return false;
}

struct Probe {
  std::string line;  // as read (matrix mode)
  Proto proto = Proto::kTcp;
  std::string ip;
  int port = 0;
  std::string netns;
  Fd fd;
  Result result = Result::kPending;
  std::string detail;
  Clock::time_point next_send;

  void finish(Result r, const std::string& why = "") {
    result = r;
    detail = why;
    fd.reset();
  }
  void finishErrno(int err, const std::string& what) {
    finish(isRejection(err) ? Result::kRejected : Result::kError, what + ": " + strerror(err));
  }
  std::string word() const {
    switch (result) {
      case Result::kOk:
        return "ok";
      case Result::kRejected:
        return "rejected";
      case Result::kTimeout:
        return "timeout";
      default: {
        std::string d = detail;
        for (char& c : d) c = c == ' ' ? '_' : c;
        return "error:" + d;
      }
    }
  }
};

// Switches this (single-threaded) process into `path`'s network namespace; "" = the one it
// started in. Sockets keep the namespace they were made in.
class NetnsSwitcher {
 public:
  NetnsSwitcher() : home_(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) {}
  bool enter(const std::string& path, std::string* err) {
    int fd = home_.get();
    if (!path.empty()) {
      auto it = open_.find(path);
      if (it == open_.end()) {
        Fd f(open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (f.get() < 0) {
          *err = "open " + path + ": " + strerror(errno);
          return false;
        }
        it = open_.emplace(path, std::move(f)).first;
      }
      fd = it->second.get();
    }
    if (setns(fd, CLONE_NEWNET) != 0) {
      *err = "setns " + (path.empty() ? std::string("home") : path) + ": " + strerror(errno);
      return false;
    }
    return true;
  }

 private:
  Fd home_;
  std::map<std::string, Fd> open_;
};

void sendUdp(Probe& p) {
  static const char kPayload[] = "netpol-probe";
  if (send(p.fd.get(), kPayload, sizeof(kPayload) - 1, 0) < 0 && errno != EAGAIN) {
    p.finishErrno(errno, "send");
    return;
  }
  p.next_send = Clock::now() + kUdpResend;
}

void start(Probe& p, NetnsSwitcher& netns) {
  sockaddr_storage addr;
  socklen_t len = 0;
  if (!parseAddress(p.ip, p.port, &addr, &len)) return p.finish(Result::kError, "bad address");
  std::string err;
  if (!netns.enter(p.netns, &err)) return p.finish(Result::kError, err);
  p.fd.reset(
      socket(addr.ss_family, sockType(p.proto) | SOCK_NONBLOCK | SOCK_CLOEXEC, ipProto(p.proto)));
  if (p.fd.get() < 0) return p.finish(Result::kError, std::string("socket: ") + strerror(errno));
  if (connect(p.fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    if (errno != EINPROGRESS) return p.finishErrno(errno, "connect");
  } else if (p.proto != Proto::kUdp) {
    return p.finish(Result::kOk);
  }
  if (p.proto == Proto::kUdp) sendUdp(p);
}

// One readiness event of a pending probe.
void advance(Probe& p, short revents) {
  if (p.proto != Proto::kUdp) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(p.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0 && (revents & POLLOUT)) return p.finish(Result::kOk);
    if (err != 0) return p.finishErrno(err, "connect");
    return;
  }
  char buf[64];
  const ssize_t n = recv(p.fd.get(), buf, sizeof(buf), 0);
  if (n >= 0) return p.finish(Result::kOk);
  if (errno != EAGAIN && errno != EWOULDBLOCK) p.finishErrno(errno, "recv");
}

// Runs every probe at once until each has a result or `timeout` has passed.
void runAll(std::vector<Probe>& probes, milliseconds timeout) {
  NetnsSwitcher netns;
  for (auto& p : probes) start(p, netns);
  std::string ignored;
  netns.enter("", &ignored);
  const auto deadline = Clock::now() + timeout;
  while (true) {
    std::vector<pollfd> fds;
    std::vector<Probe*> owners;
    auto wake = deadline;
    for (auto& p : probes) {
      if (p.result != Result::kPending) continue;
      const short events = p.proto == Proto::kUdp ? POLLIN : POLLOUT;
      fds.push_back({p.fd.get(), events, 0});
      owners.push_back(&p);
      if (p.proto == Proto::kUdp && p.next_send < wake) wake = p.next_send;
    }
    if (fds.empty()) return;
    const auto now = Clock::now();
    if (now >= deadline) break;
    const auto wait = std::chrono::duration_cast<milliseconds>(wake - now).count();
    const int n = poll(fds.data(), fds.size(), static_cast<int>(std::max<long>(wait, 0)) + 1);
    if (n < 0 && errno != EINTR) {
      const std::string why = std::string("poll: ") + strerror(errno);
      for (auto* p : owners) p->finish(Result::kError, why);
      return;
    }
    for (size_t i = 0; n > 0 && i < fds.size(); ++i) {
      if (fds[i].revents != 0) advance(*owners[i], fds[i].revents);
    }
    const auto after = Clock::now();
    for (auto* p : owners) {
      if (p->result == Result::kPending && p->proto == Proto::kUdp && after >= p->next_send) {
        sendUdp(*p);
      }
    }
  }
  for (auto& p : probes) {
    if (p.result == Result::kPending) p.finish(Result::kTimeout);
  }
}

std::vector<int> parsePorts(const std::string& list) {
  std::vector<int> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.push_back(std::atoi(item.c_str()));
  }
  return out;
}

// A listening (or, for UDP, bound) socket on `port`: IPv6 with IPv4 mapped where the namespace
// has IPv6, else IPv4. -1 and a message on stderr on failure.
int listenOn(Proto proto, int port) {
  const int type = sockType(proto) | SOCK_NONBLOCK | SOCK_CLOEXEC;
  Fd fd(socket(AF_INET6, type, ipProto(proto)));
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (fd.get() >= 0) {
    const int off = 0;
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_any;
    a->sin6_port = htons(port);
    len = sizeof(*a);
  } else {
    fd.reset(socket(AF_INET, type, ipProto(proto)));
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_ANY);
    a->sin_port = htons(port);
    len = sizeof(*a);
  }
  if (fd.get() < 0) {
    std::fprintf(stderr, "netpol_probe: socket (port %d): %s\n", port, strerror(errno));
    return -1;
  }
  const int on = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    std::fprintf(stderr, "netpol_probe: bind port %d: %s\n", port, strerror(errno));
    return -1;
  }
  if (proto != Proto::kUdp && listen(fd.get(), 128) != 0) {
    std::fprintf(stderr, "netpol_probe: listen port %d: %s\n", port, strerror(errno));
    return -1;
  }
  return fd.release();
}

int serve(const std::map<Proto, std::vector<int>>& ports, const std::string& ready_file) {
  std::vector<Fd> socks;
  std::vector<Proto> protos;
  for (const auto& [proto, list] : ports) {
    for (int port : list) {
      const int fd = listenOn(proto, port);
      if (fd < 0) return 1;
      socks.emplace_back(fd);
      protos.push_back(proto);
    }
  }
  if (!ready_file.empty() && !(std::ofstream(ready_file) << "ready\n")) {
    std::fprintf(stderr, "netpol_probe: cannot write %s\n", ready_file.c_str());
    return 1;
  }
  std::vector<pollfd> fds;
  for (const auto& s : socks) fds.push_back({s.get(), POLLIN, 0});
  while (true) {
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "netpol_probe: poll: %s\n", strerror(errno));
      return 1;
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      if (protos[i] != Proto::kUdp) {
        // The handshake is all a probe asks for.
        Fd conn(accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC));
        continue;
      }
      char buf[2048];
      sockaddr_storage peer;
      socklen_t peer_len = sizeof(peer);
      const ssize_t n =
          recvfrom(fds[i].fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&peer), &peer_len);
      if (n >= 0) {
        sendto(fds[i].fd, buf, n, 0, reinterpret_cast<sockaddr*>(&peer), peer_len);
      }
    }
  }
}

int usage() {
  std::fprintf(stderr,
               "usage: netpol_probe serve [--tcp P,..] [--udp P,..] [--sctp P,..] "
               "[--ready-file F]\n"
               "       netpol_probe connect --proto tcp|udp|sctp --to IP --port N "
               "[--timeout-ms T]\n"
               "       netpol_probe matrix [--timeout-ms T] < 'PROTO IP PORT [NETNS]' lines\n");
  return 3;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string mode = argv[1];
  std::map<std::string, std::string> opts;
  for (int i = 2; i < argc; ++i) {
    const std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || i + 1 >= argc) return usage();
    opts[key.substr(2)] = argv[++i];
  }
  const milliseconds timeout(opts.contains("timeout-ms") ? std::atoi(opts["timeout-ms"].c_str())
                                                         : 1000);
  if (mode == "serve") {
    std::map<Proto, std::vector<int>> ports;
    if (opts.contains("tcp")) ports[Proto::kTcp] = parsePorts(opts["tcp"]);
    if (opts.contains("udp")) ports[Proto::kUdp] = parsePorts(opts["udp"]);
    if (opts.contains("sctp")) ports[Proto::kSctp] = parsePorts(opts["sctp"]);
    return serve(ports, opts["ready-file"]);
  }
  if (mode == "connect") {
    std::vector<Probe> probes(1);
    Probe& p = probes[0];
    if (!parseProto(opts["proto"], &p.proto)) return usage();
    p.ip = opts["to"];
    p.port = std::atoi(opts["port"].c_str());
    runAll(probes, timeout);
    std::printf("%s\n", p.word().c_str());
    if (p.result == Result::kError) std::fprintf(stderr, "netpol_probe: %s\n", p.detail.c_str());
    return p.result == Result::kOk         ? 0
           : p.result == Result::kRejected ? 1
           : p.result == Result::kTimeout  ? 2
                                           : 3;
  }
  if (mode == "matrix") {
    std::vector<Probe> probes;
    for (std::string line; std::getline(std::cin, line);) {
      if (line.empty()) continue;
      Probe p;
      p.line = line;
      std::istringstream fields(line);
      std::string proto;
      fields >> proto >> p.ip >> p.port >> p.netns;
      if (!parseProto(proto, &p.proto)) {
        std::fprintf(stderr, "netpol_probe: bad line: %s\n", line.c_str());
        return 3;
      }
      probes.push_back(std::move(p));
    }
    runAll(probes, timeout);
    for (const auto& p : probes) std::printf("%s %s\n", p.line.c_str(), p.word().c_str());
    return 0;
  }
  return usage();
}
