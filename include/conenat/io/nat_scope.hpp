// What every engine's nftables rule set is about: conenatd's table, the WAN interface, the
// internal network and the external addresses and ports. Each rule spec (RuleSetSpec,
// QueueRuleSpec, TunRuleSpec) starts with it.
#pragma once

#include "conenat/core/nat/port_set.hpp"
#include "conenat/core/types.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace conenat::io {

struct NatScope {
    std::string table = "conenatd";
    std::string wan_if;
    core::Ipv4 internal_net = 0;
    std::uint8_t internal_prefix = 24;
    std::vector<core::Ipv4> external_addrs;
    std::vector<core::PortRange> pool; // the NAT's external port set, as intervals
};

} // namespace conenat::io
