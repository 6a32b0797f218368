#include "netpolicy/kernel/linux_policy_kernel.h"

#include <libipset/ipset.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cstring>
#include <memory>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "netpolicy/iptables_restore.h"
#include "netpolicy/kernel/kernel_text.h"
#include "netpolicy/kernel/legacy_filter_digest.h"
#include "netpolicy/kernel/nft_filter_dump.h"
#include "netpolicy/kernel/nft_generation.h"

namespace quasar::netpolicy {
namespace {

// What one libipset session printed and the first error it reported.
struct IpsetCapture {
  std::string output;
  std::string error;
};

std::string format(const char* fmt, va_list args) {
  va_list copy;
  va_copy(copy, args);
  const int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return {};
  std::string out(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(out.data(), out.size(), fmt, args);
  out.resize(static_cast<size_t>(n));
  return out;
}

IpsetCapture& captureOf(struct ipset* handle) {
  return *static_cast<IpsetCapture*>(ipset_session_printf_private(ipset_session(handle)));
}

int onOutput(struct ipset_session*, void* p, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  static_cast<IpsetCapture*>(p)->output += format(fmt, args);
  va_end(args);
  return 0;
}

// libipset's default handlers print and exit() the process: these record the message instead.
int onCustomError(struct ipset* handle, void* p, int status, const char* msg, ...) {
  auto* capture = static_cast<IpsetCapture*>(p);
  if (status != IPSET_NO_PROBLEM && msg != nullptr && capture->error.empty()) {
    va_list args;
    va_start(args, msg);
    capture->error = format(msg, args);
    va_end(args);
  }
  if (struct ipset_session* session = ipset_session(handle)) ipset_session_report_reset(session);
  return status == IPSET_NO_PROBLEM ? 0 : -1;
}

int onStandardError(struct ipset* handle, void*) {
  struct ipset_session* session = ipset_session(handle);
  const enum ipset_err_type type = ipset_session_report_type(session);
  IpsetCapture& capture = captureOf(handle);
  if (type >= IPSET_NOTICE && capture.error.empty()) {
    capture.error = ipset_session_report_msg(session);
    if (capture.error.empty()) capture.error = "unknown ipset error";
  }
  ipset_session_report_reset(session);
  return type >= IPSET_NOTICE ? -1 : 0;
}

struct FileClose {
  void operator()(FILE* f) const { fclose(f); }
};

absl::Status ipsetError(const std::string& what, const IpsetCapture& capture) {
  std::string msg(capture.error);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (absl::StrContains(msg, "does not exist")) {
    return absl::NotFoundError(absl::StrCat(what, ": ", msg));
  }
  return absl::InternalError(absl::StrCat(what, ": ", msg));
}

// The calling thread's network namespace (its inode), or 0 when it cannot be told.
ino_t currentNetns() {
  struct stat st;
  return stat("/proc/thread-self/ns/net", &st) == 0 ? st.st_ino : 0;
}

std::string tool(conf::Family family, const char* suffix) {
  return absl::StrCat(family == conf::Family::kV4 ? "iptables" : "ip6tables", suffix);
}

// A tool that cannot be started (not installed) is Unavailable for the Applier.
absl::Status toolStatus(absl::Status s) {
  if (absl::IsFailedPrecondition(s)) return absl::UnavailableError(s.message());
  return s;
}

// OK when both families' tools are iptables-nft (ip6tables may be missing): then every change
// of their rules moves the nftables generation.
absl::Status nftBackend() {
  for (conf::Family family : {conf::Family::kV4, conf::Family::kV6}) {
    const std::string name = tool(family, "");
    auto version = runCommandOutput({name, "-V"}, "");
    if (!version.ok()) {
      if (family == conf::Family::kV6 && absl::IsFailedPrecondition(version.status())) continue;
      return toolStatus(version.status());
    }
    if (!absl::StrContains(*version, "(nf_tables)")) {
      return absl::UnimplementedError(absl::StrCat(name, " is not the nf_tables backend (",
                                                   absl::StripAsciiWhitespace(*version),
                                                   "): no ruleset generation"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

struct LinuxPolicyKernel::IpsetSession {
  struct Free {
    void operator()(struct ipset* h) const { ipset_fini(h); }
  };
  std::unique_ptr<struct ipset, Free> handle;
  IpsetCapture capture;
  ino_t netns = 0;
};

LinuxPolicyKernel::LinuxPolicyKernel() = default;
LinuxPolicyKernel::~LinuxPolicyKernel() = default;

namespace {

absl::StatusOr<std::unique_ptr<LinuxPolicyKernel::IpsetSession>> openIpset() {
  // ipset_load_types fills a process-wide list: once.
  static std::once_flag types_loaded;
  std::call_once(types_loaded, [] { ipset_load_types(); });
  auto session = std::make_unique<LinuxPolicyKernel::IpsetSession>();
  session->handle.reset(ipset_init());
  if (!session->handle) return absl::ResourceExhaustedError("ipset_init failed (out of memory)");
  if (ipset_custom_printf(session->handle.get(), onCustomError, onStandardError, onOutput,
                          &session->capture) != 0) {
    return absl::InternalError("ipset_custom_printf failed");
  }
  session->netns = currentNetns();
  return session;
}

// One ipset command line ("list -t", "save QSR-x", "destroy QSR-x") in a session of its own
// (a session keeps a command's options, such as list's -t, for the next); returns its output.
absl::StatusOr<std::string> ipsetLine(const std::string& line) {
  auto session = openIpset();
  if (!session.ok()) return session.status();
  std::string buf = line;
  const int rc = ipset_parse_line((*session)->handle.get(), buf.data());
  const IpsetCapture& capture = (*session)->capture;
  if (rc < 0 || !capture.error.empty()) return ipsetError(absl::StrCat("ipset ", line), capture);
  return std::move((*session)->capture.output);
}

}  // namespace

absl::Status LinuxPolicyKernel::ipsetRestore(const std::string& text) {
  if (text.empty()) return absl::OkStatus();
  if (ipset_ && (ipset_->netns == 0 || ipset_->netns != currentNetns())) ipset_.reset();
  if (!ipset_) {
    auto session = openIpset();
    if (!session.ok()) return session.status();
    ipset_ = std::move(*session);
  }
  ipset_->capture = {};
  struct ipset* handle = ipset_->handle.get();
  std::unique_ptr<FILE, FileClose> stream(
      fmemopen(const_cast<char*>(text.data()), text.size(), "r"));
  if (!stream) {
    const int err = errno;
    return absl::ResourceExhaustedError(
        absl::StrCat("fmemopen for ipset restore: ", strerror(err)));
  }
  const int rc = ipset_parse_stream(handle, stream.get());
  if (rc < 0 || !ipset_->capture.error.empty()) {
    absl::Status s = ipsetError("ipset restore", ipset_->capture);
    ipset_.reset();  // a session that failed is not reused
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<KernelSet>> LinuxPolicyKernel::listSets() {
  auto text = ipsetLine("list -t");
  if (!text.ok()) return text.status();
  return parseIpsetHeaders(*text);
}

absl::StatusOr<std::vector<SetEntry>> LinuxPolicyKernel::readSet(const std::string& name) {
  auto text = ipsetLine(absl::StrCat("save ", name));
  if (!text.ok()) return text.status();
  return parseIpsetSave(name, *text);
}

absl::Status LinuxPolicyKernel::changeSets(const std::vector<SetOp>& ops) {
  // Destroy is not batched by the kernel anyway, and a set already gone is success: each one
  // runs on its own so that "does not exist" can be told apart from a real failure (in use).
  std::vector<SetOp> batch;
  auto flush = [&]() -> absl::Status {
    absl::Status s = ipsetRestore(renderSetOps(batch));
    batch.clear();
    return s;
  };
  for (const SetOp& op : ops) {
    if (op.kind != SetOp::Kind::kDestroy) {
      batch.push_back(op);
      continue;
    }
    if (auto s = flush(); !s.ok()) return s;
    auto done = ipsetLine(absl::StrCat("destroy ", op.set));
    if (!done.ok() && !absl::IsNotFound(done.status())) return done.status();
  }
  return flush();
}

absl::StatusOr<FilterState> LinuxPolicyKernel::readFilter(conf::Family family) {
  if (nftBackendOk()) return readNftFilter(family);
  auto text = runCommandOutput({tool(family, "-save"), "-t", "filter"}, "");
  if (!text.ok()) return toolStatus(text.status());
  return parseIptablesSave(*text);
}

absl::StatusOr<std::map<std::string, int>> LinuxPolicyKernel::readHooks(conf::Family family) {
  if (nftBackendOk()) {
    std::map<std::string, int> hooks;
    for (const char* chain : {"FORWARD", "INPUT"}) {
      auto rules = readNftFilter(family, chain);
      if (!rules.ok()) return rules.status();
      hooks.merge(rules->hooks);
    }
    return hooks;
  }
  // `iptables -S CHAIN` prints the chain's rules in iptables-save's form (and a -P line).
  std::string text = "*filter\n";
  for (const char* chain : {"FORWARD", "INPUT"}) {
    auto rules = runCommandOutput({tool(family, ""), "-w", "-S", chain}, "");
    if (!rules.ok()) return toolStatus(rules.status());
    text += *rules;
  }
  text += "COMMIT\n";
  auto parsed = parseIptablesSave(text);
  if (!parsed.ok()) return parsed.status();
  return std::move(parsed->hooks);
}

absl::Status LinuxPolicyKernel::restoreFilter(conf::Family family, const std::string& input) {
  return toolStatus(runCommand({tool(family, "-restore"), "--noflush", "-w"}, input));
}

bool LinuxPolicyKernel::nftBackendOk() {
  if (!nft_backend_) nft_backend_ = nftBackend();
  return nft_backend_->ok();
}

absl::StatusOr<uint64_t> LinuxPolicyKernel::filterGeneration() {
  if (!nftBackendOk()) {
    // The legacy backend (the tools answered, not nf_tables): the tables' digest stands in.
    if (absl::IsUnimplemented(*nft_backend_)) return readLegacyFilterDigest();
    return *nft_backend_;
  }
  auto id = readNftGeneration();
  if (!id.ok()) return id.status();
  return uint64_t{*id};
}

}  // namespace quasar::netpolicy
