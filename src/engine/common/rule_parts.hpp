// The parts every engine's rule set (nft_rules.hpp) takes from the config: the set of external
// addresses and the internal networks.
#pragma once

#include "conenat/engine/config.hpp"
#include "conenat/io/nft_terms.hpp"

#include <string>

namespace conenat::engine {

constexpr const char* kExternalSet = "external";

// set external { type ipv4_addr; elements = { <the external addresses> } }
inline io::nft::Set external_set(const EngineConfig& o) {
    io::nft::Set s{kExternalSet, {io::nft::Type::Ipv4Addr}, {}, false, {}};
    for (core::Ipv4 a : o.nat.pool.external_addrs)
        s.elements.push_back({a, a, {}});
    return s;
}

// Appends `queue num <num>` to `rule` unless the queueing is left to iptables (Elsewhere).
inline void add_queue(io::nft::Rule& rule, std::uint16_t num, io::nft::Queueing q, bool bypass = false) {
    if (q != io::nft::Queueing::Elsewhere)
        rule.push_back(io::nft::queue(num, q == io::nft::Queueing::Native, bypass));
}

// ip saddr <internal net>, or ip saddr { <net>, <net> } with several internal prefixes.
inline io::nft::Term internal_source(const EngineConfig& o) { return io::nft::saddr_in(o.internal); }

// ip daddr [!=] <internal net(s)>.
inline io::nft::Term internal_destination(const EngineConfig& o, io::nft::Cmp op = io::nft::Cmp::Eq) {
    return io::nft::daddr_in(o.internal, op);
}

// An ICMP error whose quoted destination is in the internal net(s).
inline io::nft::Term quoted_internal_destination(const EngineConfig& o) { return io::nft::quoted_daddr_in(o.internal); }

// The software engines take the LAN's outbound traffic out of conntrack before it runs (raw,
// -300). A user's own DNAT rule (another table, prerouting -100) forwards a port the pool
// leaves alone (the daemon keeps the ruleset's DNAT ports out of it), but its target's replies
// must keep conntrack to be translated back. The kernel cannot look a flow up before
// conntrack, so the forwarded packets themselves note their reply's flow, in the forward hook
// (after the DNAT, before the target can answer: no race), in a dynamic set; the raw chain
// leaves a packet of such a flow tracked. Every packet of the flow restarts its timeout.
constexpr const char* kDnatRepliesSet = "dnat_replies";
constexpr std::uint32_t kDnatRepliesSize = 131072;
constexpr std::uint32_t kDnatTcpTimeoutS = 3 * 3600; // beyond TCP keepalive's 2 h
constexpr std::uint32_t kDnatUdpTimeoutS = 300;

// set dnat_replies { type ipv4_addr . inet_proto . inet_service . ipv4_addr . inet_service; size N; flags dynamic,timeout }
inline io::nft::Set dnat_replies_set() {
    using io::nft::Type;
    io::nft::Set s{kDnatRepliesSet, {Type::Ipv4Addr, Type::InetProto, Type::InetService, Type::Ipv4Addr, Type::InetService},
                   {}, false, {}};
    s.dynamic = true;
    s.size = kDnatRepliesSize;
    return s;
}

// chain dnat_flows { type filter hook forward priority filter;
//   ct status dnat ct direction original ip daddr <int> update @dnat_replies { <reply's flow, tcp> timeout 3h }
//   (udp: 300 s; and the replies themselves, `ct direction reply ip saddr <int>`, refresh it) }
inline io::nft::Chain dnat_flows_chain(const EngineConfig& o) {
    using namespace io::nft;
    Chain c{"dnat_flows", BaseChain{"filter", Hook::Forward, 0}, {}};
    for (bool reply : {false, true})
        for (Proto4 p : {Proto4::Tcp, Proto4::Udp})
            c.rules.push_back({ct_status_dnat(), reply ? ct_reply() : ct_original(),
                               reply ? internal_source(o) : internal_destination(o),
                               update_flow(kDnatRepliesSet, !reply, p, p == Proto4::Tcp ? kDnatTcpTimeoutS : kDnatUdpTimeoutS)});
    return c;
}

// The rule of the raw chain, before the outbound one: a reply of a user's DNAT flow keeps
// conntrack (`accept`: the NAT leaves it to the kernel, which translates it back).
inline io::nft::Rule dnat_reply_rule(const EngineConfig& o) {
    using namespace io::nft;
    return {iifname(o.external_if, Cmp::Neq), internal_source(o), flow_in_set(kDnatRepliesSet), accept()};
}

} // namespace conenat::engine
