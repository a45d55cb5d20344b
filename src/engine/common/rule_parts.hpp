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

} // namespace conenat::engine
