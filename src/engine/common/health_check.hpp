// The daemon's side of `conenatctl check`: is the NAT the config asks for really in place on
// this router? Its table, chains, maps and queue rules present, the queues bound and not
// dropping, forwarding on, the WAN addressed, and no other NAT rule taking the LAN's traffic
// before conenatd's. Findings in plain words (conenat/util/finding.hpp).
#pragma once

#include "conenat/engine/config.hpp"
#include "conenat/io/nft_inspect.hpp"
#include "conenat/io/nft_rules.hpp"
#include "conenat/io/queue_bindings.hpp"
#include "conenat/util/finding.hpp"

#include <vector>

namespace conenat::engine {

// What the check saw of the system, read twice `kSampleMs` apart (counters moving or not).
struct SystemView {
    io::NftRuleset ruleset, ruleset_later;
    std::vector<io::QueueBinding> bindings, bindings_later;
    std::string ip_forward;                 // /proc/sys/net/ipv4/ip_forward
    std::optional<std::vector<core::Ipv4>> wan_addresses; // none: the interface is missing
    std::string legacy_tables;              // /proc/net/ip_tables_names (iptables-legacy)
};
constexpr int kSampleMs = 1000;

// Reads the view (io), sampling twice.
Result<SystemView> read_system_view(const EngineConfig& config);
// The findings on `view` for the engine `config` describes, whose table is `expected`. Pure.
std::vector<Finding> check_view(const EngineConfig& config, const io::nft::RuleSet& expected, const SystemView& view);

} // namespace conenat::engine
