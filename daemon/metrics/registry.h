#pragma once
// A Prometheus metrics registry and its text exposition (format 0.0.4).
//
// A family is one metric name with HELP text, a type and label names; its children (one per
// combination of label values) are the time series. Families live as long as the registry and
// children as long as their family (none is ever removed), so a caller looks a child up once,
// keeps the reference and updates it on its hot path without any lookup. Series that come and
// go (addresses per pool) are computed at scrape time by collect() callbacks instead.
//
// Threading: everything is thread-safe. with() takes the family's mutex; looking up an existing
// child does not allocate. expose() runs the collect() callbacks, one family at a time, under
// that family's mutex: they must be quick and must not call back into the registry.
//
// Failure: a name that Prometheus would refuse (or a counter not named *_total, a histogram
// label "le", a duplicate family, the wrong number of label values) is a programming error:
// the process aborts with the reason, at start-up, where these are declared.

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/metrics/metric.h"
#include "daemon/metrics/registration.h"

namespace quasar::metrics {

enum class Type { kCounter, kGauge, kHistogram };

// Orders label-value lists, also against views of them (lookups without allocating).
struct LabelsLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(
        a.begin(), a.end(), b.begin(), b.end(),
        [](const auto& x, const auto& y) { return std::string_view(x) < std::string_view(y); });
  }
};

// Samples computed by a collect() callback at scrape time.
class Samples {
 public:
  explicit Samples(size_t arity) : arity_(arity) {}
  // Label values in the order of the family's label names. A second sample with the same
  // labels replaces the first.
  void add(std::vector<std::string> label_values, double value);
  void add(std::initializer_list<std::string_view> label_values, double value) {
    add(std::vector<std::string>(label_values.begin(), label_values.end()), value);
  }
  const std::map<std::vector<std::string>, double, LabelsLess>& values() const { return values_; }

 private:
  size_t arity_;
  std::map<std::vector<std::string>, double, LabelsLess> values_;
};

class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  Type type() const { return type_; }
  const std::vector<std::string>& labelNames() const { return label_names_; }
  // Appends the family's exposition; nothing when it has no series.
  virtual void write(std::string& out) const = 0;

 protected:
  FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> label_names)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)) {}

 private:
  std::string name_, help_;
  Type type_;
  std::vector<std::string> label_names_;
};

template <typename T>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
         std::vector<double> bounds = {});

  // The child with these label values (in the order of the label names), created with value 0
  // on first use. The reference stays valid as long as the family.
  T& with(std::initializer_list<std::string_view> label_values) {
    return with(std::span<const std::string_view>(label_values.begin(), label_values.size()));
  }
  T& with(std::span<const std::string_view> label_values);
  T& with(std::span<const std::string> label_values);
  // A family without labels has exactly one child, exposed from the start.
  T& get() { return with(std::span<const std::string_view>()); }

  // Adds series computed at each scrape (counters and gauges only). A computed series with the
  // labels of a child is left out (the child wins). Ends with the returned registration.
  Registration collect(std::function<void(Samples&)> fn);

  void write(std::string& out) const override;

 private:
  template <typename Values>
  T& find(const Values& label_values);
  void endCollect(uint64_t id);

  const std::vector<double> bounds_;  // histograms
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>, LabelsLess> children_;
  std::map<uint64_t, std::function<void(Samples&)>> collectors_;
  uint64_t next_collector_ = 1;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry {
 public:
  // Counter names end in _total.
  CounterFamily& counter(std::string name, std::string help,
                         std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  // `bounds`: the buckets' upper bounds, finite and strictly increasing (+Inf is implied).
  HistogramFamily& histogram(std::string name, std::string help,
                             std::vector<std::string> label_names, std::vector<double> bounds);

  // The text exposition (Content-Type: kContentType), families in name order, children in
  // label order.
  std::string expose() const;
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  template <typename F>
  F& add(std::unique_ptr<F> family);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>> families_;
};

// Exposition details, public for the tests.
std::string formatValue(double v);                 // shortest round-trip; NaN, +Inf, -Inf
std::string escapeLabelValue(std::string_view v);  // \ " and newline
std::string escapeHelp(std::string_view v);        // \ and newline

}  // namespace quasar::metrics
