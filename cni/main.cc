// quasar: the CNI plugin binary. The runtime runs it with CNI_* in the environment and the
// network config on stdin; it answers with a result or the spec's error JSON on stdout and logs
// to stderr (and the config's logFile).

#include <errno.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cni/commands.h"
#include "cni/env.h"
#include "cni/errors.h"
#include "cni/result.h"
#include "conf/json_parse.h"

namespace quasar::cni {
namespace {

using nlohmann::json;

void print(const json& j) {
  // Replace, not throw, should anything not UTF-8 have slipped into a string.
  const std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// "2026-11-23T08:07:21.355Z", computed from the clock alone: glibc's gmtime_r reads
// /etc/localtime on its first call, which would be on the path of every pod start.
class UtcTimeFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count();
    const auto day = static_cast<long>(ms / 86'400'000);
    const long in_day = static_cast<long>(ms % 86'400'000);
    const year_month_day ymd{sys_days{days{day}}};
    char buf[32];
    const int n = std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02ld:%02ld:%02ld.%03ldZ",
                                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                                static_cast<unsigned>(ymd.day()), in_day / 3'600'000,
                                in_day / 60'000 % 60, in_day / 1000 % 60, in_day % 1000);
    dest.append(buf, buf + n);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<UtcTimeFlag>();
  }
};

void useLogger(std::vector<spdlog::sink_ptr> sinks) {
  auto logger = std::make_shared<spdlog::logger>("quasar", sinks.begin(), sinks.end());
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<UtcTimeFlag>('*').set_pattern("%* %l quasar[%P] %v");
  logger->set_formatter(std::move(formatter));
  spdlog::set_default_logger(logger);
}

void setUpLogging(const conf::NetConf& c) {
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_sink_st>()};
  if (!c.log_file.empty()) {
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_st>(c.log_file));
    } catch (const spdlog::spdlog_ex& e) {
      std::fprintf(stderr, "quasar: cannot open log file %s: %s\n", c.log_file.c_str(), e.what());
    }
  }
  useLogger(std::move(sinks));
  spdlog::default_logger()->set_level(spdlog::level::from_str(c.log_level));
}

int fail(const std::string& version, const absl::Status& s, const CniEnv* env) {
  const json err = errorJson(version, s);
  spdlog::error("event=error command={} container={} ifname={} code={} error=\"{}\"",
                env ? env->command : "", env ? env->container_id : "", env ? env->ifname : "",
                err["code"].get<int>(), std::string(s.message()));
  print(err);
  return 1;
}

// Plain read(2): <iostream>'s static initialisation (locales) was a sixth of start-up.
std::string readStdin() {
  std::string input;
  char buf[16384];
  while (true) {
    const ssize_t n = ::read(0, buf, sizeof(buf));
    if (n > 0) {
      input.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      return input;
    }
  }
}

int run() {
  const std::string input = readStdin();
  // The config's version, if it can be read at all, is the version errors are reported in.
  // Bounded depth: the config is copied and the result dumped, both recursively.
  auto parsed = conf::parseJson(input);
  std::string version = supportedVersions().back();
  if (parsed.ok() && parsed->is_object() && parsed->contains("cniVersion") &&
      (*parsed)["cniVersion"].is_string() &&
      isSupportedVersion((*parsed)["cniVersion"].get<std::string>())) {
    version = (*parsed)["cniVersion"].get<std::string>();
  }
  useLogger({std::make_shared<spdlog::sinks::stderr_sink_st>()});

  auto env = readEnv([](const char* k) { return std::getenv(k); });
  if (!env.ok()) return fail(version, env.status(), nullptr);
  if (env->command == "VERSION") {
    print({{"cniVersion", version}, {"supportedVersions", supportedVersions()}});
    return 0;
  }
  if (!parsed.ok()) {
    return fail(version,
                withCode(absl::InvalidArgumentError(
                             absl::StrCat("config on stdin: ", parsed.status().message())),
                         kDecodeFailure),
                &*env);
  }
  auto conf = conf::parseNetConf(*parsed);
  if (!conf.ok()) return fail(version, withCode(conf.status(), kInvalidConfig), &*env);
  if (!isSupportedVersion(conf->cni_version)) {
    return fail(version,
                withCode(absl::InvalidArgumentError(absl::StrCat(
                             "cniVersion ", conf->cni_version, " is not supported (supported: ",
                             absl::StrJoin(supportedVersions(), ", "), ")")),
                         kIncompatibleVersion),
                &*env);
  }
  if (auto s = commandAllowedIn(env->command, conf->cni_version); !s.ok()) {
    return fail(version, s, &*env);
  }
  setUpLogging(*conf);
  Invocation inv{*env, *conf};
  const auto& cmd = env->command;
  if (cmd == "ADD") {
    auto result = cmdAdd(inv);
    if (!result.ok()) return fail(version, result.status(), &*env);
    print(*result);
    return 0;
  }
  absl::Status s = cmd == "DEL"     ? cmdDel(inv)
                   : cmd == "CHECK" ? cmdCheck(inv)
                   : cmd == "GC"    ? cmdGc(inv)
                                    : cmdStatus(inv);
  if (!s.ok()) return fail(version, s, &*env);
  return 0;
}

}  // namespace
}  // namespace quasar::cni

int main() { return quasar::cni::run(); }
