#include "router_follow.hpp"

#include "conenat/util/log.hpp"

namespace conenat::engine {

Status follow_router(std::optional<RouterWatch>& watch, const EngineConfig& config, InstalledRules& rules,
                     RouterWatchHandlers handlers) {
    if (!config.external_from_if && !config.rules_auto)
        return {};
    RouterWatchConfig wc;
    wc.wan_if = config.external_if;
    wc.follow_wan = config.external_from_if;
    wc.table = config.table;
    wc.own_portid = rules.nft().portid();
    wc.wan_now = config.nat.pool.external_addrs;
    auto opened = RouterWatch::open(std::move(wc));
    if (!opened)
        return Error{"watching the router: " + opened.error()};
    watch.emplace(std::move(opened.value()));
    return watch->start(std::move(handlers));
}

void reinstall_table(InstalledRules& rules, const std::string& table, const std::string& why,
                     std::atomic<std::uint64_t>& reinstalled) {
    if (!rules.installed())
        return;
    if (Status s = rules.replay(); !s) {
        LOG_ERROR("table ip %s lost (%s); reinstalling it failed: %s", table.c_str(), why.c_str(), s.error().c_str());
        return;
    }
    reinstalled.fetch_add(1, std::memory_order_relaxed);
    LOG_WARN("table ip %s reinstalled (lost: %s)", table.c_str(), why.c_str());
}

} // namespace conenat::engine
