// The Prometheus exposition of the engines' statistics: the text format (one # HELP and one
// # TYPE per name, conenatd_ names, counters *_total), names unique, every engine's statistic
// described, and the latency histogram cumulative in seconds with its _sum and _count.
#include "conenat/engine/metrics.hpp"
#include "src/engine/common/metrics_catalogue.hpp"
#include "src/engine/queue/engine.hpp"
#include "src/engine/tun/engine.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace conenat;
using namespace conenat::engine;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

// The value of the sample line `name` (labels included), or -1.
double sample(const std::string& text, const std::string& name) {
    for (const std::string& l : lines_of(text))
        if (l.size() > name.size() && l.compare(0, name.size(), name) == 0 && l[name.size()] == ' ')
            return std::stod(l.substr(name.size() + 1));
    return -1;
}

// Checks the exposition's form: each sample's family introduced by exactly one # HELP and one
// # TYPE (in that order, before its samples), names of the allowed form, counters *_total.
void check_form(const std::string& text) {
    static const std::regex kSample(R"(^(conenatd_[a-zA-Z0-9_]+)(\{[a-z_]+="[^"\\]*"(,[a-z_]+="[^"\\]*")*\})? [0-9]+(\.[0-9]+)?$)");
    std::map<std::string, std::string> type_of;
    std::set<std::string> helped, samples;
    std::string current;
    for (const std::string& l : lines_of(text)) {
        std::smatch m;
        if (l.rfind("# HELP ", 0) == 0) {
            current = l.substr(7, l.find(' ', 7) - 7);
            CHECK_MESSAGE(helped.insert(current).second, "two # HELP for ", current);
        } else if (l.rfind("# TYPE ", 0) == 0) {
            const std::string name = l.substr(7, l.find(' ', 7) - 7);
            CHECK(name == current);
            CHECK_MESSAGE(type_of.emplace(name, l.substr(l.rfind(' ') + 1)).second, "two # TYPE for ", name);
        } else {
            REQUIRE_MESSAGE(std::regex_match(l, m, kSample), "not a sample line: ", l);
            CHECK_MESSAGE(samples.insert(l.substr(0, l.rfind(' '))).second, "a sample twice: ", l);
            std::string family = m[1];
            const std::string type = type_of[current];
            if (type == "histogram")
                for (const char* suffix : {"_bucket", "_sum", "_count"})
                    if (family.ends_with(suffix) && family.substr(0, family.size() - std::strlen(suffix)) == current)
                        family = current;
            CHECK_MESSAGE(family == current, l, " is not under its own # HELP/# TYPE");
            if (type == "counter") CHECK_MESSAGE(family.ends_with("_total"), family);
            if (type == "gauge") CHECK_MESSAGE(!family.ends_with("_total"), family);
        }
    }
}

template <std::size_t N>
std::string stats_of(const std::array<std::string_view, N>& names) {
    std::string s;
    std::uint64_t v = 1;
    for (std::string_view n : names) s += std::string(n) + " " + std::to_string(v++) + "\n";
    return s;
}

std::string core_stats() {
    std::string s;
    for (std::size_t i = 0; i < std::size_t(core::Counter::count_); ++i)
        s += std::string(core::to_string(core::Counter(i))) + " " + std::to_string(i) + "\n";
    return s;
}

} // namespace

TEST_CASE("metrics: every engine's statistics in the exposition format, each name once") {
    const std::string queue = core_stats() + stats_of(stat_names(QueueStat{})) + "workers 2\nrules_reinstalled 0\n";
    const std::string tun = core_stats() + stats_of(stat_names(TunStat{})) + "workers 1\nrules_reinstalled 1\n";
    for (const std::string& stats : {queue, tun}) {
        const std::string text = prometheus_text(stats, {});
        check_form(text);
        CHECK(text.find("no description yet") == std::string::npos);
    }
    const std::string text = prometheus_text(queue, {});
    CHECK(sample(text, "conenatd_mappings") == 16);
    CHECK(text.find("# TYPE conenatd_mappings gauge\n") != std::string::npos);
    CHECK(sample(text, "conenatd_mappings_created_total") == double(std::size_t(core::Counter::mappings_created)));
    CHECK(sample(text, "conenatd_packets_translated_total{direction=\"in\"}") == 1);
    CHECK(sample(text, "conenatd_packets_dropped_total{reason=\"malformed\"}") ==
          double(std::size_t(core::Counter::drop_malformed)));
    CHECK(sample(text, "conenatd_workers") == 2);
}

TEST_CASE("metrics: every statistic is described, counters as *_total") {
    for (std::size_t i = 0; i < std::size_t(core::Counter::count_); ++i) {
        const auto m = metric_for(core::to_string(core::Counter(i)));
        REQUIRE(m);
        CHECK(m->type == MetricType::Counter);
        CHECK(m->metric.ends_with("_total"));
        CHECK(!m->help.empty());
    }
    for (std::string_view n : stat_names(QueueStat{})) CHECK_MESSAGE(described(n), n);
    for (std::string_view n : stat_names(TunStat{})) CHECK_MESSAGE(described(n), n);
    CHECK(metric_for("mappings")->type == MetricType::Gauge);
    CHECK(!described("no_such_statistic"));
    CHECK(!metric_for("first_packet_us_p99")); // the histogram carries it
}

TEST_CASE("metrics: a name given twice counts once, a bad line is skipped, an unknown one is a gauge") {
    const std::string text = prometheus_text("syn_hold_expired 3\nsyn_hold_expired 3\nbroken\nx -1\nnew_thing 7\n", {});
    check_form(text);
    CHECK(sample(text, "conenatd_syn_hold_expired_total") == 3);
    CHECK(text.find("# TYPE conenatd_new_thing gauge\n") != std::string::npos);
    CHECK(sample(text, "conenatd_new_thing") == 7);
    CHECK(text.find("broken") == std::string::npos);
    CHECK(text.find("conenatd_x") == std::string::npos);
}

TEST_CASE("metrics: the latency histogram is cumulative, in seconds, with _sum and _count") {
    LatencyHistogram h;
    for (std::uint64_t us : {0, 1, 3, 3, 1000, 2'000'000'000}) h.add(us);
    const NamedLatency named[] = {{"first_packet", "first packets", h.snapshot()}};
    const std::string text = prometheus_text("mappings 1\n", named);
    check_form(text);
    CHECK(text.find("# TYPE conenatd_first_packet_latency_seconds histogram\n") != std::string::npos);
    const std::string b = "conenatd_first_packet_latency_seconds_bucket";
    CHECK(sample(text, b + "{le=\"0.000002\"}") == 2);     // 0 and 1 µs
    CHECK(sample(text, b + "{le=\"0.000004\"}") == 4);     // and 3, 3
    CHECK(sample(text, b + "{le=\"0.001024\"}") == 5);     // and 1000
    CHECK(sample(text, b + "{le=\"8.388608\"}") == 5);     // the last bound before +Inf
    CHECK(sample(text, b + "{le=\"+Inf\"}") == 6);
    CHECK(sample(text, "conenatd_first_packet_latency_seconds_count") == 6);
    CHECK(sample(text, "conenatd_first_packet_latency_seconds_sum") == doctest::Approx(2000.001007));
    double last = 0;
    for (const std::string& l : lines_of(text))
        if (l.rfind(b, 0) == 0) {
            const double v = std::stod(l.substr(l.rfind(' ') + 1));
            CHECK(v >= last);
            last = v;
        }
}
