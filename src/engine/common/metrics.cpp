#include "conenat/engine/metrics.hpp"

#include "conenat/engine/engine.hpp"
#include "engine/common/metrics_catalogue.hpp"

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace conenat::engine {

namespace {

constexpr std::string_view kPrefix = "conenatd_";

// A metric name's characters ([a-zA-Z0-9_], not starting with a digit); others become '_'.
std::string metric_name(std::string_view base) {
    std::string out(kPrefix);
    for (char c : base) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        out += ok ? c : '_';
    }
    return out;
}

// # HELP text: backslash and newline escaped (the exposition format's rule).
std::string escaped_help(std::string_view help) {
    std::string out;
    for (char c : help) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

// `us` microseconds as seconds, exactly ("0.000002", "16.777216", "3").
std::string seconds(std::uint64_t us) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%llu.%06llu", (unsigned long long)(us / 1'000'000),
                  (unsigned long long)(us % 1'000'000));
    std::string s(buf);
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
    return s;
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

// The metric families in the order they first appear, each with its samples.
class Exposition {
public:
    void add(const MetricInfo& m, std::string_view value) {
        Family& f = family(metric_name(m.metric), m.type == MetricType::Counter ? "counter" : "gauge", m.help);
        const std::string labels = m.labels.empty() ? "" : "{" + std::string(m.labels) + "}";
        for (const auto& [l, v] : f.samples)
            if (l == labels) return; // a name twice: the first counts
        f.samples.emplace_back(labels, std::string(value));
    }
    // A log2 µs histogram as a Prometheus histogram in seconds: cumulative `le` buckets, +Inf,
    // _sum and _count.
    void histogram(const NamedLatency& h) {
        const std::string name = metric_name(std::string(h.name) + "_latency_seconds");
        Family& f = family(name, "histogram", h.help);
        if (!f.samples.empty()) return;
        std::uint64_t cumulative = 0;
        const auto& counts = h.snapshot.counts;
        for (std::size_t b = 0; b + 1 < counts.size(); ++b) {
            cumulative += counts[b];
            f.samples.emplace_back("_bucket{le=\"" + seconds(LatencySnapshot::upper_us(b)) + "\"}",
                                   std::to_string(cumulative));
        }
        cumulative += counts.back();
        f.samples.emplace_back("_bucket{le=\"+Inf\"}", std::to_string(cumulative));
        f.samples.emplace_back("_sum", seconds(h.snapshot.sum_us));
        f.samples.emplace_back("_count", std::to_string(cumulative));
    }
    std::string str() const {
        std::string out;
        for (const Family& f : m_families) {
            out += "# HELP " + f.name + " " + escaped_help(f.help) + "\n";
            out += "# TYPE " + f.name + " " + f.type + "\n";
            for (const auto& [suffix, value] : f.samples) out += f.name + suffix + " " + value + "\n";
        }
        return out;
    }

private:
    struct Family {
        std::string name, type, help;
        std::vector<std::pair<std::string, std::string>> samples; // {labels or suffix, value}
    };
    Family& family(std::string name, std::string_view type, std::string_view help) {
        for (Family& f : m_families)
            if (f.name == name) return f;
        m_families.push_back(Family{std::move(name), std::string(type), std::string(help), {}});
        return m_families.back();
    }

    std::vector<Family> m_families;
};

} // namespace

std::string prometheus_text(std::string_view stats, std::span<const NamedLatency> latencies) {
    Exposition e;
    while (!stats.empty()) {
        const std::size_t eol = stats.find('\n');
        const std::string_view line = stats.substr(0, eol);
        stats = eol == std::string_view::npos ? std::string_view{} : stats.substr(eol + 1);
        const std::size_t sp = line.find(' ');
        if (sp == std::string_view::npos || sp == 0) continue;
        const std::string_view value = line.substr(sp + 1);
        if (!all_digits(value)) continue;
        if (auto m = metric_for(line.substr(0, sp))) e.add(*m, value);
    }
    for (const NamedLatency& h : latencies) e.histogram(h);
    return e.str();
}

std::string prometheus_text(Engine& engine) {
    const std::string stats = engine.stats();
    const std::vector<NamedLatency> latencies = engine.latencies();
    return prometheus_text(stats, latencies);
}

} // namespace conenat::engine
