// The engines' statistics in the Prometheus text exposition format (version 0.0.4): what
// --metrics-file holds (the node_exporter textfile collector's way) and what
// `conenatctl stats --prometheus` prints. Every name is conenatd_*, has one # HELP and one
// # TYPE, carries its unit (_seconds, _bytes), counters end in _total, and the latencies are
// histograms in seconds.
#pragma once

#include "conenat/engine/latency.hpp"

#include <span>
#include <string>
#include <string_view>

namespace conenat::engine {

class Engine;

// The content type of that text (for whoever serves it over HTTP).
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// `engine`'s statistics (Engine::stats() and Engine::latencies()) as Prometheus text.
// Thread-safe as Engine::stats() is: callable from the control socket's thread.
std::string prometheus_text(Engine& engine);

// The Prometheus text of "name value" lines as Engine::stats() prints them and of histograms.
// A line not of that form is skipped; a name seen twice counts once (the first).
std::string prometheus_text(std::string_view stats, std::span<const NamedLatency> latencies);

} // namespace conenat::engine
