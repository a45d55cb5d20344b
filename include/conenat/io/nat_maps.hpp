// The conntrack engine's NAT maps: their names and key layouts, shared by the rule set that
// declares them (engine/conntrack/rules.cpp) and the elements Nftables::add writes into them.
#pragma once

#include "conenat/core/nat/config.hpp"
#include "conenat/core/types.hpp"
#include "conenat/io/nft_rules.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace conenat::io {

// The maps of one installed table and each protocol's mapping behaviour (its snat key).
struct NatMaps {
    std::string table = "conenatd";
    core::Behaviour udp_mapping{}, tcp_mapping{}, icmp_mapping{};

    core::Behaviour mapping(core::Proto p) const {
        return p == core::Proto::Udp ? udp_mapping : p == core::Proto::Tcp ? tcp_mapping : icmp_mapping;
    }
};

// One mapping's map elements: snat (key from internal [+ remote], by the protocol's mapping
// behaviour) -> external, and for UDP/TCP dnat external -> internal.
struct MappingElement {
    core::Proto proto = core::Proto::Udp;
    core::Endpoint internal, remote, external; // remote: only the parts the mapping key uses
};

// Key of the snat map of `proto`: ip saddr . sport [. ip daddr [. dport]] by the mapping
// behaviour; ICMP has no remote port (its "port" is the echo identifier).
std::vector<nft::Field> snat_key(core::Proto proto, core::Behaviour mapping);
// Key of the dnat map: ip daddr . dport.
std::vector<nft::Field> dnat_key();
std::string_view snat_map(core::Proto proto); // "snat_udp", "snat_tcp", "snat_icmp"
std::string_view dnat_map(core::Proto proto); // "dnat_udp", "dnat_tcp"

} // namespace conenat::io
