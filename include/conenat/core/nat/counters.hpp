// One counter per outcome and per drop reason, readable by the engines.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace conenat::core {

#define CONENAT_COUNTERS(X)                                                                        \
    X(translated_out) X(translated_in) X(hairpinned) X(icmp_errors_translated)                     \
    X(mappings_created) X(mappings_removed) X(sessions_created) X(sessions_removed)                 \
    X(syn_held) X(syn_released) X(syn_hold_expired) X(replies_built)                               \
    X(drop_malformed) X(drop_bad_checksum) X(drop_unsupported) X(drop_fragment) X(drop_port_zero)  \
    X(drop_no_mapping) X(drop_filtered) X(drop_tcp_no_session) X(drop_syn_hold_full)               \
    X(drop_ports_exhausted) X(drop_host_quota) X(drop_mapping_cap) X(drop_session_cap)             \
    X(drop_no_port_block) X(drop_icmp_no_mapping) X(drop_hairpin_loop) X(drop_inbound_limit)        \
    X(drop_syn_hold_source) X(rst_out_of_window)

enum class Counter : std::uint8_t {
#define CONENAT_COUNTER_ENUM(name) name,
    CONENAT_COUNTERS(CONENAT_COUNTER_ENUM)
#undef CONENAT_COUNTER_ENUM
    count_
};

std::string_view to_string(Counter c);

class Counters {
public:
    void add(Counter c, std::uint64_t n = 1) { m_values[std::size_t(c)] += n; }
    std::uint64_t get(Counter c) const { return m_values[std::size_t(c)]; }
    std::uint64_t operator[](Counter c) const { return get(c); }

private:
    std::array<std::uint64_t, std::size_t(Counter::count_)> m_values{};
};

} // namespace conenat::core
