#include "engine.hpp"

#include "conenat/util/log.hpp"
#include "engine/tun/rules.hpp"
#include "conenat/engine/clock.hpp"
#include "engine/software/handoff_ring.hpp"
#include "worker.hpp"

namespace conenat::engine {

namespace {

// The policy rule that routes marked packets into the device, and where the `lookup local`
// rule moves so that it comes after it (the external addresses are local ones).
constexpr std::uint32_t kRulePref = 1, kLocalPref = 2;
constexpr std::uint32_t kRouteTable = 0x636e; // "cn"
constexpr std::size_t kRingBytes = std::size_t(4) << 20;
constexpr unsigned kDeviceQueue = 4096;

std::string conf_path(const std::string& ifname, const char* key) {
    return "/proc/sys/net/ipv4/conf/" + ifname + "/" + key;
}

} // namespace

std::string tun_rules_text(const EngineConfig& o) { return io::Nftables::render(tun_rules(o, o.tun_name)); }

TunEngine::TunEngine(const EngineConfig& config) : LiveEngine(config) {}

TunEngine::~TunEngine() { stop(); }

Status TunEngine::start() {
    if (!m_plan_error.empty())
        return Error{"--" + m_plan_error};
    const unsigned n = m_plan.workers;
    std::vector<io::TunQueue> queues;
    for (unsigned k = 0; k < n; ++k) {
        auto q = io::TunQueue::open(k == 0 ? m_config.tun_name : queues.front().name(), n > 1);
        if (!q)
            return Error{"--tun-name " + m_config.tun_name + ": " + q.error()};
        queues.push_back(std::move(q.value()));
    }
    const std::string tun_if = queues.front().name();
    m_tun_if = tun_if;
    auto rtnl = io::Rtnetlink::open();
    if (!rtnl) return Error{"rtnetlink: " + rtnl.error()};
    m_rtnl.emplace(std::move(rtnl.value()));
    CONENAT_TRY(route_into_device());

    for (unsigned k = 0; k < n; ++k) {
        auto wake = io::EventFd::open();
        if (!wake) return Error{wake.error()};
        m_wake_fds.push_back(std::move(wake.value()));
    }
    m_rings.resize(std::size_t(n) * n);
    for (unsigned from = 0; from < n; ++from)
        for (unsigned to = 0; to < n; ++to)
            if (from != to) m_rings[from * n + to] = std::make_unique<HandoffRing>(kRingBytes);
    for (unsigned k = 0; k < n; ++k) {
        std::vector<HandoffRing*> inbox(n), outbox(n);
        for (unsigned j = 0; j < n; ++j) {
            inbox[j] = m_rings[j * n + k].get();
            outbox[j] = m_rings[k * n + j].get();
        }
        TunWorkerSettings w;
        w.index = k;
        w.workers = n;
        w.internal = m_config.internal;
        m_workers.push_back(std::make_unique<TunWorker>(w, m_plan, random_seed(), std::move(queues[k]), inbox, outbox,
                                                        m_wake_fds));
    }

    auto rules = InstalledRules::open();
    if (!rules) return Error{rules.error()};
    m_rules.emplace(std::move(rules.value()));
    if (m_config.rules_auto) {
        CONENAT_TRY(install_rules());
        LOG_INFO("installed table ip %s; marked packets (0x%08x) routed into %s (%u queue%s)", m_config.table.c_str(),
                 m_config.mark, tun_if.c_str(), n, n == 1 ? "" : "s");
    }
    return run();
}

io::nft::RuleSet TunEngine::rules_for(const EngineConfig& config, const ShardPlan&) const {
    return tun_rules(config, m_tun_if);
}

// The device up with the WAN's MTU (so that the kernel answers DF packets too big for the WAN
// with ICMP 3/4 on the way in, RFC 4787 REQ-13), packets with our own source address accepted
// from it, a route into it for marked packets, and the local rule behind that one.
Status TunEngine::route_into_device() {
    const std::string& tun = m_tun_if;
    auto mtu = m_rtnl->mtu(m_config.external_if);
    if (!mtu) return Error{"--external-if " + m_config.external_if + ": " + mtu.error()};
    // A deeper device queue than the default 500: bursts wait for the workers instead of being
    // dropped (as NFQUEUE's 4096); overload is still shed there, before any userspace work.
    CONENAT_TRY(m_rtnl->set_link(tun, true, *mtu, kDeviceQueue));
    m_mtu = *mtu;
    auto index = m_rtnl->ifindex(tun);
    if (!index) return Error{index.error()};
    m_tun_index = *index;
    CONENAT_TRY(io::write_sysctl(conf_path(tun, "accept_local"), "1"));
    CONENAT_TRY(io::write_sysctl(conf_path(tun, "rp_filter"), "0"));
    CONENAT_TRY(io::write_sysctl(conf_path(tun, "send_redirects"), "0"));
    if (auto all = io::read_sysctl(conf_path("all", "rp_filter")); all && all->starts_with("1"))
        LOG_WARN("net.ipv4.conf.all.rp_filter is 1 (strict): packets the engine writes back may be dropped; use 0 or 2");
    if (auto fwd = io::read_sysctl("/proc/sys/net/ipv4/ip_forward"); fwd && !fwd->starts_with("1"))
        LOG_WARN("net.ipv4.ip_forward is off: the router forwards nothing, through the NAT or not");

    CONENAT_TRY(m_rtnl->add_default_route(kRouteTable, m_tun_index));
    m_route_added = true;
    const io::PolicyRule ours{kRulePref, kRouteTable, m_config.mark, m_config.mark};
    const io::PolicyRule local_first{0, io::kLocalTable, 0, 0}, local_moved{kLocalPref, io::kLocalTable, 0, 0};
    auto rules = m_rtnl->rules();
    if (!rules) return Error{rules.error()};
    bool local_at_0 = false, local_at_moved = false;
    for (const auto& r : *rules) {
        if (r.other_selectors) continue;
        if (r.rule == ours) (void)m_rtnl->delete_rule(ours); // left by a run that was killed
        local_at_0 |= r.rule == local_first;
        local_at_moved |= r.rule == local_moved;
    }
    if (local_at_0) {
        if (!local_at_moved) CONENAT_TRY(m_rtnl->add_rule(local_moved));
        CONENAT_TRY(m_rtnl->delete_rule(local_first));
        m_local_moved = true;
    } else if (local_at_moved) {
        m_local_moved = true; // moved by a run that was killed: put back at stop all the same
    } else {
        LOG_WARN("no 'lookup local' rule at priority 0: inbound packets may not reach %s", tun.c_str());
    }
    CONENAT_TRY(m_rtnl->add_rule(ours));
    m_rule_added = true;
    LOG_INFO("%s up (mtu %u); ip rule pref %u fwmark 0x%x lookup %u; local rule at pref %u", tun.c_str(), *mtu,
             kRulePref, m_config.mark, kRouteTable, kLocalPref);
    return {};
}

void TunEngine::unroute_device() {
    if (!m_rtnl) return;
    auto report = [](const Status& s) {
        if (!s) LOG_ERROR("%s", s.error().c_str());
    };
    if (m_rule_added) report(m_rtnl->delete_rule({kRulePref, kRouteTable, m_config.mark, m_config.mark}));
    if (m_local_moved) {
        // Back first, then the moved one away: the local table is never out of the way.
        report(m_rtnl->add_rule({0, io::kLocalTable, 0, 0}));
        report(m_rtnl->delete_rule({kLocalPref, io::kLocalTable, 0, 0}));
    }
    if (m_route_added) (void)m_rtnl->delete_default_route(kRouteTable, m_tun_index); // gone with the device too
    m_rule_added = m_local_moved = m_route_added = false;
}

void TunEngine::stop() {
    halt();
    if (m_rules) m_rules->remove();
    unroute_device();
    for (auto& w : m_workers) // the device goes away with its last queue; the statistics stay
        w->close();
    m_wake_fds.clear();
}

// PPPoE: the interface may come back with another MTU, which the device takes (see route_into_device).
void TunEngine::wan_changed() {
    if (!m_rtnl) return;
    auto mtu = m_rtnl->mtu(m_config.external_if);
    if (!mtu || *mtu == m_mtu) return; // gone for now: its return is another change
    if (Status s = m_rtnl->set_link(m_tun_if, true, *mtu, kDeviceQueue); !s) {
        LOG_ERROR("%s: cannot take %s's mtu %u: %s", m_tun_if.c_str(), m_config.external_if.c_str(), *mtu, s.error().c_str());
        return;
    }
    LOG_INFO("%s: mtu %u, as %s now has", m_tun_if.c_str(), *mtu, m_config.external_if.c_str());
    m_mtu = *mtu;
}

} // namespace conenat::engine
