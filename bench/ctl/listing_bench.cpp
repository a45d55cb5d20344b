// conenatctl listing benchmark (not a test): 100 k live mappings, the times of the copy a
// worker's thread makes for `conenatctl mappings` (MappingTable::view_mappings: the only part
// the datapath waits for), then of rendering it as the text table and as JSON (the control
// thread's), each also as a ratio to a plain copy of the table's records measured in the same run.
#include "conenat/core/nat/mapping_table.hpp"
#include "daemon/control_tables.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

using namespace conenat;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::uint32_t kMappings = 100'000;
constexpr int kRounds = 5;

template <typename F>
double median_ms(F&& f) {
    std::vector<double> t;
    for (int r = 0; r < kRounds; ++r) {
        const auto t0 = Clock::now();
        f();
        t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

} // namespace

int main() {
    core::NatConfig c;
    c.max_mappings = 1u << 17;
    c.max_sessions = 1u << 18;
    c.per_host_mappings = 0;
    c.pool.external_addrs = {core::make_ipv4(198, 51, 100, 1), core::make_ipv4(198, 51, 100, 2)};
    core::MappingTable table(c, 42);
    const core::TimeMs now = 1'000'000;
    for (std::uint32_t i = 0; i < kMappings; ++i) {
        core::Counter why{};
        const core::Endpoint internal{core::make_ipv4(10, 0, std::uint8_t(i / 250 % 256), std::uint8_t(1 + i % 250)),
                                      std::uint16_t(10000 + i / 64000)};
        const core::Endpoint remote{core::make_ipv4(203, 0, 113, std::uint8_t(i % 200)), 443};
        const core::MappingId m = table.create(core::Proto::Udp, internal, remote, now, why);
        if (m == core::kNil) {
            std::fprintf(stderr, "listing bench: mapping %u not created\n", i);
            return 1;
        }
        (void)table.refresh_outbound(m, remote, now);
    }
    const core::TimeMs later = now + 5000;
    std::size_t sink = 0;
    const double copy_ms = median_ms([&] {
        std::vector<core::Mapping> raw;
        raw.reserve(kMappings);
        table.for_each_mapping([&](core::MappingId, const core::Mapping& m) { raw.push_back(m); });
        sink += raw.size();
    });
    engine::TableView view;
    const double view_ms = median_ms([&] {
        view.mappings.clear();
        (void)table.view_mappings(later, {}, engine::kViewLimit, view.mappings);
    });
    view.mapping_count = table.mapping_count();
    view.tables = 1;
    std::size_t text_bytes = 0, json_bytes = 0;
    const double text_ms = median_ms([&] { text_bytes = daemon::render_mappings(view, false).size(); });
    const double json_ms = median_ms([&] { json_bytes = daemon::render_mappings(view, true).size(); });
    std::printf("conenatctl mappings, %zu live mappings (median of %d rounds):\n", view.mappings.size(), kRounds);
    std::printf("  %-44s %8.2f ms   1.00 x\n", "baseline: copy of the table's records", copy_ms);
    std::printf("  %-44s %8.2f ms %6.2f x   (what a worker spends)\n", "view_mappings: the rows a worker copies", view_ms,
                view_ms / copy_ms);
    std::printf("  %-44s %8.2f ms %6.2f x   (%zu bytes)\n", "render as the text table (sorted)", text_ms, text_ms / copy_ms,
                text_bytes);
    std::printf("  %-44s %8.2f ms %6.2f x   (%zu bytes)\n", "render as JSON (sorted)", json_ms, json_ms / copy_ms, json_bytes);
    return sink == 0;
}
