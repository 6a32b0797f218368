#pragma once
// A source the agents' tests drive: its sink calls go straight to the object view. Test-only.

#include "daemon/cluster/object_view.h"

namespace quasar::daemon::testing {

class DrivenSource : public ObjectSource {
 public:
  std::vector<objects::Kind> kinds() const override {
    return {objects::Kind::kNode, objects::Kind::kNamespace, objects::Kind::kPod,
            objects::Kind::kNetworkPolicy, objects::Kind::kQuasarNetworkPolicy};
  }
  absl::Status start(ObjectSink& sink) override {
    sink_ = &sink;
    return absl::OkStatus();
  }
  void stop() override { sink_ = nullptr; }
  std::string describe() const override { return "test"; }
  absl::StatusOr<std::optional<nlohmann::json>> fetch(objects::Kind, const std::string&,
                                                      const std::string&,
                                                      std::chrono::milliseconds) override {
    return std::optional<nlohmann::json>();
  }
  ObjectSink* sink_ = nullptr;
};

}  // namespace quasar::daemon::testing
