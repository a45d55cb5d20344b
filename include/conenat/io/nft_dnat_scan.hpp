// The destination ports other nftables tables translate with DNAT (a user's own port forwards,
// `tcp dport 25000 dnat to 192.168.1.10`): read from the kernel's ruleset, so that the NAT
// keeps those ports out of its pool (a mapping on one would steal the forward's inbound
// traffic, and the software engines would take its packets before the kernel's DNAT).
#pragma once

#include "conenat/core/nat/port_set.hpp"
#include "conenat/util/result.hpp"

#include <string>
#include <vector>

namespace conenat::io {

struct DnatPorts {
    std::vector<core::PortRange> ports; // matched by a DNAT rule (tcp/udp/th dport: a port, range or set)
    std::vector<std::string> unknown;   // DNAT rules whose port this scan cannot read ("table/chain: why")
};

// Every rule of the ip and inet tables but `own_table` (ip) and those of another conenatd (ip
// tables with nft::kOwnTableComment) with a DNAT statement (nft's
// `dnat` and `redirect`, iptables-nft's DNAT and REDIRECT targets): the destination ports it
// matches.
Result<DnatPorts> dnat_ports(const std::string& own_table);

} // namespace conenat::io
