// The conntrack engine through the router's life: its table put back when someone else removes
// it (a firewall reload: `nft flush ruleset`, `nft delete table ip conenatd`), told at once by
// RouterWatch (nf_tables events), with every live mapping replayed into it.
#include "engine.hpp"

#include "conenat/util/log.hpp"
#include "conenat/util/rate_limit.hpp"

namespace conenat::engine {

Status ConntrackEngine::start_watch() {
    if (!m_config.rules_auto) return {}; // --rules manual: the table is the user's
    RouterWatchConfig c;
    c.wan_if = m_config.external_if;
    c.follow_wan = false;
    c.table = m_config.table;
    c.own_portid = m_rules->nft().portid(); // our own element updates are no loss
    c.wan_now = m_config.nat.pool.external_addrs;
    auto watch = RouterWatch::open(std::move(c));
    if (!watch) return Error{"router watch: " + watch.error()};
    m_watch.emplace(std::move(watch.value()));
    RouterWatchHandlers h;
    h.table_lost = [this](const std::string& why) { table_lost(why); };
    return m_watch->start(std::move(h));
}

void ConntrackEngine::table_lost(const std::string& why) {
    std::lock_guard lock(m_mutex);
    if (Status s = replay_rules(why); !s)
        LOG_ERROR_LIMITED(10, "table ip %s: not reinstalled: %s", m_config.table.c_str(), s.error().c_str());
}

} // namespace conenat::engine
