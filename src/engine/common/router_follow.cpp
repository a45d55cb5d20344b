#include "router_follow.hpp"

#include "conenat/util/log.hpp"
#include "conenat/util/rate_limit.hpp"

namespace conenat::engine {

Status follow_router(std::optional<RouterWatch>& watch, const EngineConfig& config, InstalledRules& rules,
                     RouterWatchHandlers handlers, bool watch_wan) {
    if (!config.external_from_if && !config.rules_auto && !watch_wan)
        return {};
    RouterWatchConfig wc;
    wc.wan_if = config.external_if;
    wc.follow_wan = config.external_from_if || watch_wan;
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

void log_wan_change(const std::string& wan_if, const std::vector<core::Ipv4>& before, const std::vector<core::Ipv4>& now) {
    if (now.empty())
        LOG_WARN("%s: %s -> (no address): NAT pauses until an address comes", wan_if.c_str(),
                 addresses_text(before).c_str());
    else
        LOG_NOTICE("%s: %s -> %s", wan_if.c_str(), addresses_text(before).c_str(), addresses_text(now).c_str());
}

void log_wan_error(const std::string& wan_if, const std::string& error) {
    LOG_ERROR_LIMITED(10, "%s: the new addresses are not applied: %s", wan_if.c_str(), error.c_str());
}

} // namespace conenat::engine
