// What the owner chooses: mapping and filtering behaviour per protocol (RFC 4787 §4.1, §5),
// timers, the external pool and limits. An aggregate with the RFCs' defaults.
#pragma once

#include "conenat/core/nat/port_allocator.hpp"

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conenat::core {

// RFC 4787 terms; used for both mapping (EIM/ADM/APDM) and filtering (EIF/ADF/APDF).
enum class Behaviour : std::uint8_t { EndpointIndependent, AddressDependent, AddressAndPortDependent };

struct Policy {
    Behaviour mapping = Behaviour::EndpointIndependent;
    Behaviour filtering = Behaviour::EndpointIndependent;
    friend bool operator==(const Policy&, const Policy&) = default;
};

enum class NatType : std::uint8_t { FullCone, RestrictedCone, PortRestrictedCone, Symmetric };

// full-cone = EIM+EIF, restricted-cone = EIM+ADF, port-restricted-cone = EIM+APDF, symmetric = APDM+APDF.
Policy policy_of(NatType type);
std::optional<NatType> parse_nat_type(std::string_view name);
std::optional<Behaviour> parse_behaviour(std::string_view name); // "endpoint-independent", "eim", "eif", ...
std::string_view to_string(NatType type);
std::string_view to_string(Behaviour b);

struct Timeouts {
    std::uint32_t udp_ms = 300'000;             // RFC 4787 REQ-5: >= 120 s, default >= 300 s
    std::uint32_t tcp_established_ms = 7'440'000; // RFC 5382 REQ-5: 2 h 4 min
    std::uint32_t tcp_transitory_ms = 240'000;  // RFC 5382 REQ-5 / RFC 7857 §2.1: 4 min
    std::uint32_t icmp_ms = 60'000;             // RFC 5508 REQ-2: >= 60 s
    std::uint32_t tcp_syn_hold_ms = 6'000;      // RFC 5382 REQ-4: hold an unsolicited SYN >= 6 s
    // RFC 4787 REQ-5a: a shorter UDP timer for traffic to chosen well-known ports (DNS, NTP, ...).
    // 0: off. Traffic to other ports keeps udp_ms; a short timer never cuts a longer one short.
    std::uint32_t udp_short_ms = 0;
    std::bitset<1024> udp_short_ports{};
};
constexpr std::uint32_t kMinUdpTimeoutMs = 120'000; // RFC 4787 REQ-5

// ICMP error sent to the sender of a packet for which no mapping can be created.
enum class ExhaustedReply : std::uint8_t {
    None,
    HostUnreachable,  // 3/1, RFC 6888 REQ-11
    AdminProhibited,  // 3/13, RFC 5508 REQ-8 (default)
};

// What an unsolicited inbound SYN gets once its hold time is over (RFC 5382 REQ-4).
enum class SynReply : std::uint8_t { None, PortUnreachable };

// A static port forward (`forward = udp:51820=192.168.1.10:51820`): a permanent mapping
// internal <-> external, endpoint-independent in both mapping and filtering whatever the NAT
// type, so any outside host reaches it and the internal server's own traffic leaves from it.
// Its external endpoint is reserved: never given to another mapping. external.addr 0: the first
// external address (it follows that address when the WAN is renumbered).
struct Forward {
    Proto proto = Proto::Udp;
    Endpoint external{};
    Endpoint internal{};
    friend bool operator==(const Forward&, const Forward&) = default;
};

// The forward as the user writes it: "udp:51820=192.168.1.10:51820", or with its external
// address "tcp:198.51.100.1:8080=10.0.0.5:80".
std::string to_string(const Forward& f);

struct NatConfig {
    Policy udp{}, tcp{}, icmp{};
    Timeouts timeouts{};
    PoolConfig pool{};
    std::uint32_t max_mappings = 1u << 16;  // global cap (all protocols)
    std::uint32_t max_sessions = 1u << 17;  // filter permits + TCP connections
    // RFC 6888 REQ-4 quota (0: only the global cap). 4096 lets a busy desktop or game console
    // (a few hundred mappings, a few thousand with P2P) work untouched on a home router, and
    // keeps one host from taking more than 1/16 of the default table; a CGN sets its own.
    std::uint32_t per_host_mappings = 4096;
    // Sessions that packets from outside open (TCP SYNs to a mapping, kernel flows from a new
    // remote) are bounded per mapping, per remote address, and in all to half of max_sessions,
    // so no outside host can take what the LAN's own traffic needs.
    std::uint32_t max_inbound_per_mapping = 1024;
    std::uint32_t max_inbound_per_remote = 128;
    std::uint32_t max_held_syns = 256;          // unsolicited SYNs held at once (RFC 5382 REQ-4)
    std::uint32_t max_held_syns_per_source = 8; // ... of them from one remote address
    ExhaustedReply on_exhausted = ExhaustedReply::AdminProhibited;
    SynReply on_unsolicited_syn = SynReply::PortUnreachable;
    std::vector<Forward> forwards;           // static port forwards (UDP, TCP)
    Ipv4 icmp_source = 0;                    // source of ICMP errors sent inside; 0: the host's external address

    const Policy& policy(Proto p) const { return p == Proto::Udp ? udp : p == Proto::Tcp ? tcp : icmp; }
    void set_type(NatType t) { udp = tcp = icmp = policy_of(t); }
};

// Empty when `c` is usable; otherwise what is wrong, naming the setting. An empty external
// address list is usable (a WAN without an address yet): nothing is allocated until one comes.
std::string_view validate(const NatConfig& c);

// Empty when `c.forwards` are usable; otherwise the first problem, naming the forward as the
// user wrote it: ICMP or port 0, two forwards on one protocol and external endpoint or one
// internal endpoint, an explicit address outside every external address (judged only when
// the list is not empty: without an address yet, the forward waits for its own).
std::string check_forwards(const NatConfig& c);

} // namespace conenat::core
