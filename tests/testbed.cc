#include "tests/testbed.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace quasar::tests {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::atomic<int> g_counter{0};

}  // namespace

nlohmann::json CmdResult::json() const { return nlohmann::json::parse(out, nullptr, false); }

CmdResult run(const std::vector<std::string>& argv, const std::string& input,
              const std::map<std::string, std::string>& env) {
  char tmpl[] = "/tmp/quasar-run-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  const std::string dir = tmpl;
  { std::ofstream(dir + "/in") << input; }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, (dir + "/in").c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, (dir + "/out").c_str(), O_WRONLY | O_CREAT, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, (dir + "/err").c_str(), O_WRONLY | O_CREAT, 0600);
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    if (!env.contains(kv.substr(0, kv.find('=')))) envs.push_back(kv);
  }
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  pid_t pid = -1;
  CmdResult r;
  if (posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), cenv.data()) == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  posix_spawn_file_actions_destroy(&fa);
  r.out = slurp(dir + "/out");
  r.err = slurp(dir + "/err");
  std::filesystem::remove_all(dir);
  return r;
}

CmdResult sh(const std::string& command) { return run({"/bin/sh", "-c", command}); }

namespace {

// Whether no process can be the one whose pid modulo 100000 is `residue`.
bool bedProcessGone(long residue) {
  long pid_max = 4194304;
  std::ifstream("/proc/sys/kernel/pid_max") >> pid_max;
  for (long pid = residue; pid <= pid_max; pid += 100000) {
    if (pid > 0 && std::filesystem::exists("/proc/" + std::to_string(pid))) return false;
  }
  return true;
}

void reapDeadBeds() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    const std::string name = entry.path().filename();
    // qt<digits>x...
    size_t i = 2;
    while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) ++i;
    if (name.rfind("qt", 0) != 0 || i == 2 || i > 7 || i >= name.size() || name[i] != 'x') {
      continue;
    }
    if (!bedProcessGone(std::stol(name.substr(2, i - 2)))) continue;
    std::cerr << "testbed: deleting network namespace " << name
              << " left by a test process that is gone\n";
    sh("ip netns del " + name);
  }
}

}  // namespace

std::string bedPrefix(int n) {
  static std::once_flag reaped;
  std::call_once(reaped, reapDeadBeds);
  return "qt" + std::to_string(getpid() % 100000) + "x" + std::to_string(n);
}

Testbed::Testbed() : Testbed(Options{}) {}

Testbed::Testbed(Options options) : options_(std::move(options)) {
  const int n = g_counter++;
  prefix_ = bedPrefix(n);
  char tmpl[] = "/tmp/quasar-e2e-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  socket_ = dir_ + "/quasard.sock";
  node_ns_ = options_.node_ns.empty() ? prefix_ + "-node" : options_.node_ns;
  gw_ns_ = prefix_ + "-gw";
  const int subnet = n % 250;
  node_ip_ = "10.250." + std::to_string(subnet) + ".1";
  const std::string gw_ip = "10.250." + std::to_string(subnet) + ".254";
  for (const auto& ns : {node_ns_, gw_ns_}) {
    if (ns == options_.node_ns || (ns == gw_ns_ && !options_.uplink)) continue;
    if (sh("ip netns add " + ns).exit_code != 0) throw std::runtime_error("ip netns add " + ns);
    namespaces_.push_back(ns);
    sh("ip -n " + ns + " link set lo up");
  }
  const auto setup =
      !options_.uplink ? CmdResult{0, "", ""} :
      sh("ip -n " + node_ns_ + " link add up0 type veth peer name down0 netns " + gw_ns_ +
         " && ip -n " + node_ns_ + " addr add " + node_ip_ + "/24 dev up0 && ip -n " + node_ns_ +
         " link set up0 up && ip -n " + gw_ns_ + " addr add " + gw_ip + "/24 dev down0 && ip -n " +
         gw_ns_ + " link set down0 up && ip -n " + node_ns_ + " route add default via " + gw_ip);
  if (options_.uplink && setup.exit_code != 0) {
    throw std::runtime_error("node uplink: " + setup.err);
  }
  std::ofstream(dir_ + "/quasard.yaml")
      << "nodeName: " << prefix_ << "\nsocket: " << socket_ << "\ncniSocket: " << dir_
      << "/cni.sock\nstateDir: " << dir_ << "/state\n"
      << (options_.pod_cidr.empty() ? "" : "podCIDRs: [" + options_.pod_cidr + "]\n")
      << "releaseCooldownSeconds: " << options_.cooldown_seconds << "\n"
      << options_.extra_config;
}

Testbed::~Testbed() {
  if (daemon_pid_ > 0) stopDaemon(SIGKILL);
  for (const auto& ns : namespaces_) sh("ip netns del " + ns + " 2>/dev/null");
  std::filesystem::remove_all(dir_);
}

void Testbed::startDaemon() {
  daemon_pid_ = spawnBackground(
      {"ip", "netns", "exec", node_ns_, QUASAR_BIN_DIR "/quasard", "-c", dir_ + "/quasard.yaml"},
      dir_ + "/quasard.log");
  // Ready when the socket answers. Under the VM's emulated CPU (scripts/vm-test.sh) quasard
  // takes some 20 s to start; here well under one.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(socket_) && ctl("status").exit_code == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  throw std::runtime_error("quasard did not come up: " + daemonLog());
}

void Testbed::stopDaemon(int signal) {
  if (daemon_pid_ <= 0) return;
  // `ip netns exec` execs quasard in place, so the pid is quasard's own.
  kill(daemon_pid_, signal);
  int status = 0;
  waitpid(daemon_pid_, &status, 0);
  daemon_pid_ = -1;
}

std::string Testbed::addPod(const std::string& name) {
  const std::string ns = podNs(name);
  if (sh("ip netns add " + ns).exit_code != 0) throw std::runtime_error("ip netns add " + ns);
  namespaces_.push_back(ns);
  return "/run/netns/" + ns;
}

void Testbed::deletePodNs(const std::string& name) { sh("ip netns del " + podNs(name)); }

nlohmann::json Testbed::netConf(const std::string& version, const nlohmann::json& extra) const {
  nlohmann::json c{{"cniVersion", version},
                   {"name", "quasar"},
                   {"type", "quasar"},
                   {"socket", dir_ + "/cni.sock"},
                   {"logFile", dir_ + "/cni.log"}};
  c.update(extra);
  return c;
}

CmdResult Testbed::cni(const std::string& command, const std::string& container,
                       const std::string& pod, const nlohmann::json& conf,
                       const std::string& ifname,
                       const std::map<std::string, std::string>& extra_env) {
  std::map<std::string, std::string> env{
      {"CNI_COMMAND", command},
      {"CNI_CONTAINERID", container},
      {"CNI_IFNAME", ifname},
      {"CNI_PATH", QUASAR_BIN_DIR},
      {"CNI_NETNS", pod.empty() ? "" : "/run/netns/" + podNs(pod)}};
  for (const auto& [k, v] : extra_env) env[k] = v;
  return cniRaw(conf.dump(), env);
}

CmdResult Testbed::cniRaw(const std::string& input, const std::map<std::string, std::string>& env) {
  return run({"ip", "netns", "exec", node_ns_, QUASAR_BIN_DIR "/quasar"}, input, env);
}

CmdResult Testbed::inNs(const std::string& ns, const std::string& command) {
  return run({"ip", "netns", "exec", ns, "/bin/sh", "-c", command});
}

CmdResult Testbed::ctl(const std::string& args) {
  return sh("ip netns exec " + node_ns_ + " " QUASAR_BIN_DIR "/quasarctl --socket " + socket_ +
            " " + args);
}

nlohmann::json Testbed::allocations() {
  auto r = ctl("-o json ipam list");
  if (r.exit_code != 0) throw std::runtime_error("quasarctl ipam list: " + r.err);
  return r.json();
}

std::vector<std::string> Testbed::hostVeths() {
  auto r = sh("ip -n " + node_ns_ + " -o link show type veth | awk -F'[ :@]+' '{print $2}'");
  std::vector<std::string> out;
  std::stringstream ss(r.out);
  for (std::string line; std::getline(ss, line);) {
    if (line.rfind("qsr", 0) == 0) out.push_back(line);
  }
  return out;
}

std::vector<std::string> Testbed::hostVethsSettled(size_t n) {
  auto veths = hostVeths();
  for (int i = 0; i < 100 && veths.size() != n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    veths = hostVeths();
  }
  return veths;
}

std::string Testbed::daemonLog() const { return slurp(dir_ + "/quasard.log"); }

int cniCode(const CmdResult& r) {
  auto j = r.json();
  return j.is_object() && j.contains("code") && j["code"].is_number() ? j["code"].get<int>() : -1;
}

std::string podIpOf(const CmdResult& add) {
  auto j = add.json();
  if (!j.is_object() || !j.contains("ips") || j["ips"].empty()) return "";
  std::string a = j["ips"][0].value("address", "");
  return a.substr(0, a.find('/'));
}

}  // namespace quasar::tests
