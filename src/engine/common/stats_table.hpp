// Every engine's statistics as Engine::stats() prints them: "name value" lines, the core's
// counters first, then the engine's own, declared once as an X-list that gives both their enum
// and their names.
#pragma once

#include "conenat/core/nat/counters.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <sstream>
#include <string>
#include <string_view>

namespace conenat::engine {

#define CONENAT_STAT_ENUMERATOR(name) name,
#define CONENAT_STAT_NAME(name) #name,
// `enum class Enum` with one enumerator per name of LIST (an X-list) and count_, and
// stat_names(Enum{}): their names, in order.
#define CONENAT_STATS_TABLE(Enum, LIST)                                                            \
    enum class Enum : std::uint8_t { LIST(CONENAT_STAT_ENUMERATOR) count_ };                      \
    constexpr std::array<std::string_view, std::size_t(Enum::count_)> stat_names(Enum) {           \
        return {LIST(CONENAT_STAT_NAME)};                                                          \
    }

constexpr std::size_t kCoreCounters = std::size_t(core::Counter::count_);

// The text of an engine's statistics, line by line.
class StatsText {
public:
    void add(std::string_view name, std::uint64_t value) { m_out << name << ' ' << value << '\n'; }
    // Lines already "name value\n".
    void add_lines(std::string_view lines) { m_out << lines; }
    // The core's counters, each under its name.
    void add_core(std::span<const std::uint64_t> values) {
        for (std::size_t i = 0; i < kCoreCounters && i < values.size(); ++i)
            add(core::to_string(core::Counter(i)), values[i]);
    }
    void add_core(const core::Counters& counters) {
        for (std::size_t i = 0; i < kCoreCounters; ++i)
            add(core::to_string(core::Counter(i)), counters.get(core::Counter(i)));
    }
    // An engine's own table: `values` in the order of `names`.
    template <std::size_t N>
    void add_table(const std::array<std::string_view, N>& names, std::span<const std::uint64_t> values) {
        for (std::size_t i = 0; i < N && i < values.size(); ++i)
            add(names[i], values[i]);
    }
    std::string str() const { return m_out.str(); }

private:
    std::ostringstream m_out;
};

} // namespace conenat::engine
