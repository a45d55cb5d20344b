// A read-only look at the kernel's whole nftables rule set (every table of the ip and inet
// families, iptables-nft's included), through libnftnl dumps: what `conenatctl check` compares
// with what the engine installed, and searches for NAT rules of others and queue rules.
#pragma once

#include "conenat/util/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace conenat::io {

struct NftChainView {
    std::string family; // "ip", "inet", ...
    std::string table, name;
    bool base = false;  // a base chain: type, hook and priority below
    std::string type;   // "filter", "nat", "route"
    std::string hook;   // "prerouting", "input", "forward", "output", "postrouting"
    int priority = 0;
};

// What a rule does, as far as the check cares.
struct NftRuleView {
    std::string family, table, chain;
    std::uint64_t handle = 0;
    std::vector<std::uint16_t> queues; // NFQUEUE numbers it sends to (nft queue or xt NFQUEUE)
    bool source_nat = false;           // snat / masquerade (nft or xt)
    bool destination_nat = false;      // dnat / redirect (nft or xt)
    std::string nat_text;              // "masquerade", "snat", "xt MASQUERADE", ...
    std::vector<std::string> jumps;    // chains it jumps to or goes to
    std::optional<std::string> oifname, iifname; // an `oifname/iifname == NAME` it matches on
    std::uint64_t packets = 0;         // its counters, summed
};

struct NftSetView {
    std::string family, table, name;
};

struct NftRuleset {
    std::vector<NftChainView> chains;
    std::vector<NftRuleView> rules;
    std::vector<NftSetView> sets;
};

// The rule set of the ip and inet families now (one dump each of chains, sets and rules).
Result<NftRuleset> read_ruleset();

} // namespace conenat::io
