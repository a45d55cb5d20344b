// The conntrack engine through the router's life: a configuration applied live (SIGHUP), the
// WAN's addresses followed (DHCP renew, PPPoE), and its table put back when someone else
// removes it (a firewall reload: `nft flush ruleset`), each told at once by RouterWatch
// (rtnetlink and nf_tables events). Every change runs under m_mutex, between batches of first
// packets.
#include "engine.hpp"

#include "conenat/engine/clock.hpp"
#include "conenat/io/conntrack.hpp"
#include "engine/common/router_follow.hpp"
#include "engine/conntrack/rules.hpp"

#include <algorithm>

#include "conenat/util/log.hpp"
#include "conenat/util/rate_limit.hpp"

namespace conenat::engine {

Status ConntrackEngine::start_watch() {
    return follow_router(m_watch, m_config, *m_rules,
                         {[this](std::vector<core::Ipv4> addrs) { wan_addresses(std::move(addrs)); },
                          [this](const std::string& why) { table_lost(why); }},
                         pair_member());
}

void ConntrackEngine::table_lost(const std::string& why) {
    std::lock_guard lock(m_mutex);
    if (!m_config.rules_auto) return; // --rules manual: the table is the user's
    if (Status s = replay_rules(why); !s)
        LOG_ERROR_LIMITED(10, "table ip %s: not reinstalled: %s", m_config.table.c_str(), s.error().c_str());
}

Status ConntrackEngine::reconfigure(const EngineConfig& next) {
    std::lock_guard lock(m_mutex);
    EngineConfig c = next;
    if (c.external_from_if) c.nat.pool.external_addrs = m_config.nat.pool.external_addrs; // the WAN's, followed
    return apply(c);
}

Status ConntrackEngine::apply(const EngineConfig& next) {
    using core::Proto;
    if (const std::string_view why = core::validate(next.nat); !why.empty()) return Error{std::string(why)};
    // Each map's key is the finest any live mapping needs: one kept from before a change of
    // behaviour stays programmable (per-flow elements, program_flow).
    io::NatMaps maps = conntrack_maps(next);
    maps.udp_mapping = m_programmed.finest(Proto::Udp, maps.udp_mapping);
    maps.tcp_mapping = m_programmed.finest(Proto::Tcp, maps.tcp_mapping);
    maps.icmp_mapping = m_programmed.finest(Proto::Icmp, maps.icmp_mapping);
    // The new table first: when the kernel refuses it, the old one (and config) runs on.
    if (m_rules && m_config.rules_auto) CONENAT_TRY(m_rules->install(conntrack_rules(next, maps, m_queueing)));
    std::vector<core::Ipv4> gone;
    for (core::Ipv4 a : m_config.nat.pool.external_addrs)
        if (std::find(next.nat.pool.external_addrs.begin(), next.nat.pool.external_addrs.end(), a) ==
            next.nat.pool.external_addrs.end())
            gone.push_back(a);
    m_reconfiguring = true;
    m_table.reconfigure(next.nat, now_ms()); // ends the mappings outside the new pool
    m_reconfiguring = false;
    m_table.set_release_check(release_check(next)); // due mappings are settled all the same
    m_config = next;
    m_maps = maps;
    // The fresh table holds no element yet: every live one goes in, new forwards included.
    m_to_remove.clear();
    m_to_add = m_programmed.all();
    const Status programmed = m_config.rules_auto ? flush_elements() : Status{};
    // Their kernel flows end with them, as MASQUERADE's do when an address goes.
    for (const auto& [proto, external] : m_ended) (void)io::delete_conntrack_nat(proto, external);
    for (core::Ipv4 a : gone) (void)io::delete_conntrack_nat(a);
    if (!m_ended.empty()) LOG_INFO("reconfigured: %zu mappings ended", m_ended.size());
    m_ended.clear();
    return programmed;
}

void ConntrackEngine::wan_addresses(std::vector<core::Ipv4> addrs) {
    std::lock_guard lock(m_mutex);
    if (!m_config.external_from_if) { // --external-ip: watched for an HA pair's role only
        wan_role(addrs, now_ms());
        return;
    }
    if (addrs == m_config.nat.pool.external_addrs) return;
    log_wan_change(m_config.external_if, m_config.nat.pool.external_addrs, addrs);
    EngineConfig next = m_config;
    next.nat.pool.external_addrs = std::move(addrs);
    if (Status s = apply(next); !s) log_wan_error(m_config.external_if, s.error());
}

} // namespace conenat::engine
