// What `conenatctl check --stun-server` tells the owner about the path from the router's WAN
// address to the internet: findings in plain sentences from an RFC 5780 discovery.
#pragma once

#include "ctl/stun_client.hpp"

#include <string>
#include <vector>

namespace conenat::ctl {

// One line of the check's report: "OK ...", "PROBLEM ..." (with what to do) or "NOTE ...".
struct Finding {
    enum class Level : std::uint8_t { Ok, Problem, Note };
    Level level;
    std::string text;
};
std::string render(const Finding& f);

// The findings of a discovery run from the router's WAN address `wan`.
std::vector<Finding> stun_findings(const StunDiscovery& d, core::Ipv4 wan);

} // namespace conenat::ctl
