// What `conenatctl check --stun-server` tells the owner about the path from the router's WAN
// address to the internet: findings in plain sentences from an RFC 5780 discovery.
#pragma once

#include "conenat/util/finding.hpp"
#include "ctl/stun_client.hpp"

#include <string>
#include <vector>

namespace conenat::ctl {

// The findings of a discovery run from the router's WAN address `wan`.
std::vector<Finding> stun_findings(const StunDiscovery& d, core::Ipv4 wan);

} // namespace conenat::ctl
