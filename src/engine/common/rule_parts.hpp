// The parts every engine's rule set (nft_rules.hpp) takes from the config: the set of external
// addresses and the internal network.
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

// ip saddr <internal net>
inline io::nft::Term internal_source(const EngineConfig& o) {
    return io::nft::saddr_in(o.internal.front().addr, o.internal.front().len);
}

} // namespace conenat::engine
