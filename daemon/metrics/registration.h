#pragma once
// A registration of a callback (a collector, a readiness check) that ends when the handle is
// destroyed or reset(). Ending it waits for a call of the callback in flight, so what the
// callback uses may go right after; it must therefore not be ended from inside the callback.
// Move-only.

#include <functional>
#include <utility>

namespace quasar::metrics {

class [[nodiscard]] Registration {
 public:
  Registration() = default;
  explicit Registration(std::function<void()> end) : end_(std::move(end)) {}
  Registration(Registration&& o) noexcept : end_(std::exchange(o.end_, nullptr)) {}
  Registration& operator=(Registration&& o) noexcept {
    if (this != &o) {
      reset();
      end_ = std::exchange(o.end_, nullptr);
    }
    return *this;
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  ~Registration() { reset(); }

  void reset() {
    if (auto end = std::exchange(end_, nullptr)) end();
  }

 private:
  std::function<void()> end_;
};

}  // namespace quasar::metrics
