// How a software engine (queue, tun) follows the router while it runs (RouterWatch): the WAN's
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

namespace conenat::engine {

// Starts `watch` when there is something to follow: the WAN's addresses (external_from_if),
// the table (rules_auto; `rules`' own changes are not news). Nothing to follow: left empty.
Status follow_router(std::optional<RouterWatch>& watch, const EngineConfig& config, InstalledRules& rules,
                     RouterWatchHandlers handlers);

// The table someone removed, installed again; one log line, counted in `reinstalled`.
void reinstall_table(InstalledRules& rules, const std::string& table, const std::string& why,
                     std::atomic<std::uint64_t>& reinstalled);

} // namespace conenat::engine
