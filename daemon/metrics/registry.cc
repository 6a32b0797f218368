#include "daemon/metrics/registry.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace quasar::metrics {
namespace {

[[noreturn]] void fatal(const std::string& what) {
  std::fprintf(stderr, "metrics: %s\n", what.c_str());
  std::abort();
}

bool validName(std::string_view n, bool colons) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (colons && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void checkFamily(const std::string& name, const std::string& help, Type type,
                 const std::vector<std::string>& labels, const std::vector<double>& bounds) {
  if (!validName(name, true)) fatal("invalid metric name \"" + name + "\"");
  if (help.empty()) fatal(name + ": HELP text is required");
  std::set<std::string_view> seen;
  for (const auto& l : labels) {
    if (!validName(l, false) || l.starts_with("__")) {
      fatal(name + ": invalid label name \"" + l + "\"");
    }
    if (!seen.insert(l).second) fatal(name + ": label \"" + l + "\" given twice");
  }
  auto ends = [&](std::string_view s) { return std::string_view(name).ends_with(s); };
  if (type == Type::kCounter && !ends("_total")) fatal(name + ": a counter's name ends in _total");
  if (type != Type::kCounter && ends("_total")) fatal(name + ": only counters end in _total");
  if (type == Type::kHistogram) {
    if (seen.contains("le")) fatal(name + ": a histogram cannot have a label \"le\"");
    if (ends("_bucket") || ends("_sum") || ends("_count")) {
      fatal(name + ": a histogram's name cannot end in _bucket, _sum or _count");
    }
    if (bounds.empty()) fatal(name + ": a histogram needs at least one bucket");
    for (size_t i = 0; i < bounds.size(); ++i) {
      if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
        fatal(name + ": bucket bounds must be finite and strictly increasing");
      }
    }
  }
}

void writeHeader(std::string& out, const FamilyBase& f) {
  static constexpr const char* kTypes[] = {"counter", "gauge", "histogram"};
  absl::StrAppend(&out, "# HELP ", f.name(), " ", escapeHelp(f.help()), "\n# TYPE ", f.name(), " ",
                  kTypes[static_cast<int>(f.type())], "\n");
}

// name{l1="v1",...,extra="x"} value
void writeSample(std::string& out, std::string_view name, const std::vector<std::string>& names,
                 std::span<const std::string> values, std::string_view extra_name,
                 std::string_view extra_value, std::string_view value) {
  out.append(name);
  if (!names.empty() || !extra_name.empty()) {
    out.push_back('{');
    for (size_t i = 0; i < names.size(); ++i) {
      if (i > 0) out.push_back(',');
      out += names[i];
      out += "=\"";
      out += escapeLabelValue(values[i]);
      out += '"';
    }
    if (!extra_name.empty()) {
      if (!names.empty()) out.push_back(',');
      out += extra_name;
      out += "=\"";
      out += extra_value;
      out += '"';
    }
    out.push_back('}');
  }
  out += ' ';
  out += value;
  out += '\n';
}

void writeChild(std::string& out, const FamilyBase& f, std::span<const std::string> values,
                const Counter& c) {
  writeSample(out, f.name(), f.labelNames(), values, "", "", absl::StrCat(c.value()));
}

void writeChild(std::string& out, const FamilyBase& f, std::span<const std::string> values,
                const Gauge& g) {
  writeSample(out, f.name(), f.labelNames(), values, "", "", formatValue(g.value()));
}

void writeChild(std::string& out, const FamilyBase& f, std::span<const std::string> values,
                const Histogram& h) {
  const auto snap = h.snapshot();
  const auto bounds = h.bounds();
  const std::string bucket = f.name() + "_bucket";
  for (size_t i = 0; i < snap.cumulative.size(); ++i) {
    writeSample(out, bucket, f.labelNames(), values, "le",
                i < bounds.size() ? formatValue(bounds[i]) : "+Inf",
                absl::StrCat(snap.cumulative[i]));
  }
  writeSample(out, f.name() + "_sum", f.labelNames(), values, "", "", formatValue(snap.sum));
  writeSample(out, f.name() + "_count", f.labelNames(), values, "", "",
              absl::StrCat(snap.cumulative.back()));
}

}  // namespace

std::string formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string escapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string escapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void Samples::add(std::vector<std::string> label_values, double value) {
  if (label_values.size() != arity_) {
    fatal(absl::StrCat("a collected sample has ", label_values.size(), " label values, not ",
                       arity_));
  }
  values_[std::move(label_values)] = value;
}

template <typename T>
Family<T>::Family(std::string name, std::string help, Type type,
                  std::vector<std::string> label_names, std::vector<double> bounds)
    : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
      bounds_(std::move(bounds)) {
  checkFamily(this->name(), this->help(), type, labelNames(), bounds_);
  if (labelNames().empty()) get();
}

template <typename T>
template <typename Values>
T& Family<T>::find(const Values& label_values) {
  if (label_values.size() != labelNames().size()) {
    fatal(absl::StrCat(name(), ": ", label_values.size(), " label values for the labels ",
                       absl::StrJoin(labelNames(), ",")));
  }
  std::lock_guard lock(mu_);
  auto it = children_.find(label_values);
  if (it == children_.end()) {
    std::unique_ptr<T> child;
    if constexpr (std::is_same_v<T, Histogram>) {
      child = std::make_unique<Histogram>(bounds_);
    } else {
      child = std::make_unique<T>();
    }
    it = children_
             .emplace(std::vector<std::string>(label_values.begin(), label_values.end()),
                      std::move(child))
             .first;
  }
  return *it->second;
}

template <typename T>
T& Family<T>::with(std::span<const std::string_view> label_values) {
  return find(label_values);
}

template <typename T>
T& Family<T>::with(std::span<const std::string> label_values) {
  return find(label_values);
}

template <typename T>
Registration Family<T>::collect(std::function<void(Samples&)> fn) {
  if constexpr (std::is_same_v<T, Histogram>) fatal(name() + ": a histogram cannot be collected");
  std::lock_guard lock(mu_);
  const uint64_t id = next_collector_++;
  collectors_.emplace(id, std::move(fn));
  return Registration([this, id] { endCollect(id); });
}

template <typename T>
void Family<T>::endCollect(uint64_t id) {
  // Under mu_, which a scrape holds while it runs the collectors: none is in flight after this.
  std::lock_guard lock(mu_);
  collectors_.erase(id);
}

template <typename T>
void Family<T>::write(std::string& out) const {
  std::lock_guard lock(mu_);
  Samples collected(labelNames().size());
  for (const auto& [id, fn] : collectors_) fn(collected);
  bool header = false;
  auto writeHeaderOnce = [&] {
    if (!header) writeHeader(out, *this);
    header = true;
  };
  for (const auto& [values, child] : children_) {
    writeHeaderOnce();
    writeChild(out, *this, values, *child);
  }
  for (const auto& [values, value] : collected.values()) {
    if (children_.contains(values)) continue;
    writeHeaderOnce();
    writeSample(out, name(), labelNames(), values, "", "", formatValue(value));
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

template <typename F>
F& Registry::add(std::unique_ptr<F> family) {
  F& f = *family;
  const std::string name = f.name();
  std::lock_guard lock(mu_);
  if (!families_.emplace(name, std::move(family)).second) {
    fatal("metric " + name + " is registered twice");
  }
  return f;
}

CounterFamily& Registry::counter(std::string name, std::string help,
                                 std::vector<std::string> label_names) {
  return add(std::make_unique<CounterFamily>(std::move(name), std::move(help), Type::kCounter,
                                             std::move(label_names)));
}

GaugeFamily& Registry::gauge(std::string name, std::string help,
                             std::vector<std::string> label_names) {
  return add(std::make_unique<GaugeFamily>(std::move(name), std::move(help), Type::kGauge,
                                           std::move(label_names)));
}

HistogramFamily& Registry::histogram(std::string name, std::string help,
                                     std::vector<std::string> label_names,
                                     std::vector<double> bounds) {
  return add(std::make_unique<HistogramFamily>(std::move(name), std::move(help), Type::kHistogram,
                                               std::move(label_names), std::move(bounds)));
}

std::string Registry::expose() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, family] : families_) family->write(out);
  return out;
}

}  // namespace quasar::metrics
