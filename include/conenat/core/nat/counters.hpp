// One counter per outcome and per drop reason, readable by the engines.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace conenat::core {

// Each counter with its help text (the Prometheus exposition's # HELP, conenatd(8)).
#define CONENAT_COUNTERS(X)                                                                        \
    X(translated_out, "Packets translated inside to outside")                                     \
    X(translated_in, "Packets translated outside to inside")                                      \
    X(hairpinned, "Packets hairpinned between two internal hosts (RFC 4787 REQ-9)")               \
    X(icmp_errors_translated, "ICMP errors translated for a mapping (RFC 5508)")                   \
    X(mappings_created, "Mappings created")                                                        \
    X(mappings_removed, "Mappings removed (expired, reconfigured away or flushed)")               \
    X(sessions_created, "Sessions created")                                                        \
    X(sessions_removed, "Sessions removed")                                                        \
    X(syn_held, "Unsolicited inbound SYNs held (RFC 5382 REQ-4)")                                 \
    X(syn_released, "Held SYNs released by an outbound SYN")                                      \
    X(syn_hold_expired, "Held SYNs expired unanswered (an ICMP error sent)")                      \
    X(replies_built, "ICMP replies built by the NAT itself")                                      \
    X(drop_malformed, "Packets dropped: malformed")                                               \
    X(drop_bad_checksum, "Packets dropped: bad checksum")                                         \
    X(drop_unsupported, "Packets dropped: unsupported protocol or option")                        \
    X(drop_fragment, "Packets dropped: a fragment the engine cannot translate")                  \
    X(drop_port_zero, "Packets dropped: port 0")                                                  \
    X(drop_no_mapping, "Packets dropped: inbound without a mapping")                              \
    X(drop_filtered, "Packets dropped: inbound refused by the filtering behaviour (RFC 4787)")    \
    X(drop_tcp_no_session, "Packets dropped: TCP segment without a session")                      \
    X(drop_syn_hold_full, "Packets dropped: the SYN hold was full")                               \
    X(drop_ports_exhausted, "Packets dropped: no external port left")                             \
    X(drop_host_quota, "Packets dropped: the internal host's mapping quota reached")              \
    X(drop_mapping_cap, "Packets dropped: the mapping limit reached")                             \
    X(drop_session_cap, "Packets dropped: the session limit reached")                             \
    X(drop_no_port_block, "Packets dropped: no port block left for the internal host")            \
    X(drop_icmp_no_mapping, "Packets dropped: ICMP error without a mapping")                      \
    X(drop_hairpin_loop, "Packets dropped: a hairpin loop")                                       \
    X(drop_inbound_limit, "Packets dropped: the mapping's inbound session limit reached")         \
    X(drop_syn_hold_source, "Packets dropped: one source's share of the SYN hold reached")        \
    X(rst_out_of_window, "Inbound TCP resets out of the window: forwarded, the session kept (RFC 5961)")

enum class Counter : std::uint8_t {
#define CONENAT_COUNTER_ENUM(name, help) name,
    CONENAT_COUNTERS(CONENAT_COUNTER_ENUM)
#undef CONENAT_COUNTER_ENUM
    count_
};

std::string_view to_string(Counter c);
// Its help text: one line, what it counts.
std::string_view help(Counter c);

class Counters {
public:
    void add(Counter c, std::uint64_t n = 1) { m_values[std::size_t(c)] += n; }
    std::uint64_t get(Counter c) const { return m_values[std::size_t(c)]; }
    std::uint64_t operator[](Counter c) const { return get(c); }

private:
    std::array<std::uint64_t, std::size_t(Counter::count_)> m_values{};
};

} // namespace conenat::core
