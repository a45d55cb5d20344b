// A software worker's statistics: what its thread publishes (atomics, a few times a second) and
// the engine's text of them, summed over its workers. Nothing shared on the packet path.
#pragma once

#include "conenat/core/nat/counters.hpp"
#include "conenat/core/nat/translator.hpp"
#include "engine/common/stats_table.hpp"
#include "engine/common/table_check.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace conenat::engine {

// A worker's statistics as the engine reads them: the core's counters (corrected by what
// hand-offs between workers make them count in the wrong worker), then the worker's own.
template <std::size_t Own>
class PublishedStats {
public:
    static constexpr std::size_t kCore = std::size_t(core::Counter::count_);
    static constexpr std::size_t kSize = kCore + Own;

    // A hand-off moved `n` of `c` to another worker (negative: from another worker).
    void handed_off(core::Counter c, std::int64_t n = 1) { m_adjust[std::size_t(c)] += n; }
    void publish(const core::Counters& counters, const std::array<std::uint64_t, Own>& own) {
        for (std::size_t i = 0; i < kCore; ++i)
            m_values[i].store(std::uint64_t(std::int64_t(counters.get(core::Counter(i))) - m_adjust[i]),
                              std::memory_order_relaxed);
        for (std::size_t i = 0; i < Own; ++i)
            m_values[kCore + i].store(own[i], std::memory_order_relaxed);
    }
    std::array<std::uint64_t, kSize> read() const {
        std::array<std::uint64_t, kSize> out{};
        for (std::size_t i = 0; i < kSize; ++i)
            out[i] = m_values[i].load(std::memory_order_relaxed);
        return out;
    }

private:
    std::array<std::int64_t, kCore> m_adjust{};
    std::array<std::atomic<std::uint64_t>, kSize> m_values{};
};

// The state of a worker's table into its own statistics (`Stat`: its engine's enum, which has
// mappings, sessions, held_now, table_checks, table_consistency_errors), the table checked when due.
template <typename Stat, std::size_t N>
void note_table_state(std::array<std::uint64_t, N>& own, core::Translator& t, TableCheck& check, const char* who) {
    own[std::size_t(Stat::mappings)] = t.table().mapping_count();
    own[std::size_t(Stat::sessions)] = t.table().session_count();
    own[std::size_t(Stat::held_now)] = t.holds().kept();
    check.run_if_due(t.table(), who);
    own[std::size_t(Stat::table_checks)] = check.runs();
    own[std::size_t(Stat::table_consistency_errors)] = check.failures();
}

// The engine's statistics text: the core's counters and the engine's own (`names`), summed over
// its workers, then how many workers there are.
template <typename Workers, std::size_t Own>
std::string worker_stats_text(const Workers& workers, const std::array<std::string_view, Own>& names) {
    std::vector<std::uint64_t> sum(kCoreCounters + Own);
    for (const auto& w : workers) {
        const auto s = w->stats();
        for (std::size_t i = 0; i < sum.size() && i < s.size(); ++i)
            sum[i] += s[i];
    }
    StatsText text;
    text.add_core(sum);
    text.add_table(names, std::span(sum).subspan(kCoreCounters));
    text.add("workers", workers.size());
    return text.str();
}

} // namespace conenat::engine
