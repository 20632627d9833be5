// /metrics in the Prometheus text format, with prometheus-cpp (Debian's
// prometheus-cpp-dev, its core library only): live counters and histograms
// sit in a prometheus::Registry; values the program already keeps (peers
// online, bytes moved, ...) are read at scrape time as extra families.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

namespace p2pshare {

using MetricLabels = std::map<std::string, std::string>;

// A family of counters (or gauges) with one sample per label set.
prometheus::MetricFamily ScrapedFamily(std::string name, std::string help,
                                       prometheus::MetricType type,
                                       const std::vector<std::pair<MetricLabels, double>>& samples);
// A family with one unlabelled sample.
prometheus::MetricFamily ScrapedValue(std::string name, std::string help,
                                      prometheus::MetricType type, double value);

// The registry's families and `extra`, in the text exposition format.
std::string RenderMetrics(const prometheus::Registry& registry,
                          std::vector<prometheus::MetricFamily> extra);

// The Content-Type of that format.
inline constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace p2pshare
