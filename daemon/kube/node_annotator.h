#pragma once
// Keeps this node's own annotations on its Node object: quasard writes only what it owns
// (quasar.io/node-ip, quasar.io/node-subnet: where other nodes route this node's pods), with a
// merge patch that touches no other field (RBAC: patch on nodes, nothing else). Re-applies them
// when they go missing or change (checked against the object view on every change of the Node
// and every `recheck`), with backoff while the API server cannot be reached.
//
// Threading: owns one thread, ended by stop() or the destructor; notify() is thread-safe.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/kube/api_client.h"

namespace quasar::kube {

class NodeAnnotator {
 public:
  using Annotations = std::map<std::string, std::string>;
  // `current` returns the node's annotations as the view has them (nullopt: no Node object
  // seen yet). Called on the annotator's thread.
  NodeAnnotator(ApiClient api, std::string node, Annotations wanted,
                std::function<std::optional<Annotations>()> current,
                std::chrono::milliseconds recheck = std::chrono::seconds(60));
  ~NodeAnnotator() { stop(); }
  void start();
  // The Node changed: check now.
  void notify();
  void stop();
  // Patches that succeeded (for tests).
  int patches() const;

 private:
  void run();

  ApiClient api_;
  const std::string node_;
  const Annotations wanted_;
  const std::function<std::optional<Annotations>()> current_;
  const std::chrono::milliseconds recheck_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool kick_ = true;
  bool stopping_ = false;
  int patches_ = 0;
  std::thread thread_;
};

}  // namespace quasar::kube
