// What each statistic (a name of Engine::stats()) is as a Prometheus metric: its name, type,
// labels and help. One table for every engine: a name used by two engines means one thing.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace conenat::engine {

enum class MetricType : std::uint8_t { Counter, Gauge };

struct MetricInfo {
    std::string_view metric; // without the conenatd_ prefix, with its unit and _total
    MetricType type;
    std::string_view labels; // `name="value"` pairs joined by ",", or empty
    std::string_view help;
};

// The metric `stat` becomes, or nullopt for a line the exposition leaves out (the latency
// quantiles: the histograms carry them). A name not in the table becomes a gauge of its own
// name ("conenatd statistic NAME"): an engine's new line still shows, never breaks the text.
std::optional<MetricInfo> metric_for(std::string_view stat);

// Whether `stat` has its own entry in the table (the unit tests' check that each engine's
// names are described).
bool described(std::string_view stat);

} // namespace conenat::engine
