// How an engine follows the router while it runs (RouterWatch): the WAN's
// addresses when they come from the interface (--external-ip not given), and its table, put
// back when someone removes it (`nft flush ruleset`, a firewall reload).
#pragma once

#include "conenat/engine/config.hpp"
#include "conenat/util/result.hpp"
#include "engine/common/installed_rules.hpp"
#include "engine/common/router_watch.hpp"

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace conenat::engine {

// Starts `watch` when there is something to follow: the WAN's addresses (external_from_if),
// the table (rules_auto; `rules`' own changes are not news). Nothing to follow: left empty.
// `watch_wan`: the WAN's addresses are watched (and told) even when --external-ip names them.
Status follow_router(std::optional<RouterWatch>& watch, const EngineConfig& config, InstalledRules& rules,
                     RouterWatchHandlers handlers, bool watch_wan = false);

// The table someone removed, installed again; one log line, counted in `reinstalled`.
void reinstall_table(InstalledRules& rules, const std::string& table, const std::string& why,
                     std::atomic<std::uint64_t>& reinstalled);

// The one log line of a change of the WAN's addresses ("wan0: a, b -> c"; none: NAT pauses),
// and of new addresses an engine could not apply.
void log_wan_change(const std::string& wan_if, const std::vector<core::Ipv4>& before, const std::vector<core::Ipv4>& now);
void log_wan_error(const std::string& wan_if, const std::string& error);

} // namespace conenat::engine
