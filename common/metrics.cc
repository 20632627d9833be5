#include "common/metrics.h"

#include <algorithm>

#include <prometheus/text_serializer.h>

namespace p2pshare {

prometheus::MetricFamily ScrapedFamily(std::string name, std::string help,
                                       prometheus::MetricType type,
                                       const std::vector<std::pair<MetricLabels, double>>& samples) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  for (const auto& [labels, value] : samples) {
    prometheus::ClientMetric m;
    for (const auto& [k, v] : labels) m.label.push_back({k, v});
    if (type == prometheus::MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    f.metric.push_back(std::move(m));
  }
  return f;
}

prometheus::MetricFamily ScrapedValue(std::string name, std::string help,
                                      prometheus::MetricType type, double value) {
  return ScrapedFamily(std::move(name), std::move(help), type, {{MetricLabels{}, value}});
}

std::string RenderMetrics(const prometheus::Registry& registry,
                          std::vector<prometheus::MetricFamily> extra) {
  std::vector<prometheus::MetricFamily> all = registry.Collect();
  for (auto& f : extra) all.push_back(std::move(f));
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return prometheus::TextSerializer().Serialize(all);
}

}  // namespace p2pshare
