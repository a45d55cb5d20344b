// The conntrack engine as one router of an HA pair (examples/ha/: keepalived moves the external
// address, conntrackd syncs the kernel's flows): its role, the takeover's grace, and the synced
// flows' bindings winning over mappings made while the takeover ran.
#include "engine.hpp"

#include "conenat/engine/clock.hpp"
#include "conenat/io/rtnetlink.hpp"
#include "conenat/util/ctl_request.hpp"
#include "conenat/util/log.hpp"
#include "conenat/util/text.hpp"

#include <algorithm>

namespace conenat::engine {

using namespace conenat::core;

namespace {
// Once the commit's flows arrive, the grace ends this long after the last one (a commit is one
// burst of events), at most kMaxGraceFactor times --takeover-grace after the takeover (a commit
// of a big table takes seconds); with no synced flow, --takeover-grace after the takeover.
constexpr TimeMs kSyncSettleMs = 500;
constexpr TimeMs kMaxGraceFactor = 10;
} // namespace

bool ConntrackEngine::pair_member() const { return m_config.takeover_grace_ms > 0 && !m_config.external_from_if; }

std::string ConntrackEngine::role() const {
    if (!pair_member()) return {};
    return m_active.load(std::memory_order_relaxed) ? "active" : "standby";
}

// The role at start, from the WAN's addresses now (m_mutex not needed: before the threads).
void ConntrackEngine::init_role() {
    if (!pair_member()) return;
    auto addrs = io::ipv4_addresses(m_config.external_if);
    const bool active = addrs && holds_external(addrs.value());
    m_active.store(active, std::memory_order_relaxed);
    LOG_NOTICE("HA pair member: %s (%s %s an external address)", active ? "active" : "standby",
               m_config.external_if.c_str(), active ? "has" : "lacks");
}

bool ConntrackEngine::holds_external(const std::vector<Ipv4>& wan) const {
    return std::any_of(wan.begin(), wan.end(), [this](Ipv4 a) { return external(a); });
}

// The WAN's addresses changed (RouterWatch's thread, m_mutex held): keepalived gave us the
// external address (takeover: the grace starts) or took it away (standby again).
void ConntrackEngine::wan_role(const std::vector<Ipv4>& wan, TimeMs now) {
    const bool active = holds_external(wan);
    if (active == m_active.load(std::memory_order_relaxed)) return;
    m_active.store(active, std::memory_order_relaxed);
    if (active) m_takeover_at = now;
    LOG_NOTICE("HA pair member: %s (%s %s an external address)%s", active ? "active" : "standby",
               m_config.external_if.c_str(), active ? "has" : "lost",
               active ? ": new mappings wait for the synced flows" : "");
}

// A first packet while standby, or in the grace after a takeover, gets no mapping of ours: the
// flow may be one the peer router mapped, whose synced entry conntrackd is about to commit (its
// retransmission then leaves through that binding). Dropped, as a failover loses a few packets
// anyway; a new port would show the peer another external endpoint, and a TCP segment sent from
// it would earn a RST that resets the connection the commit would have carried on.
bool ConntrackEngine::holding_off(TimeMs now) const {
    if (!pair_member()) return false;
    if (!m_active.load(std::memory_order_relaxed)) {
        LOG_DEBUG("takeover: a first packet dropped: standby");
        return true;
    }
    const TimeMs left = grace_left(now);
    if (!left) return false;
    LOG_DEBUG("takeover: a first packet dropped: %llu ms of grace left", (unsigned long long)left);
    return true;
}

TimeMs ConntrackEngine::grace_left(TimeMs now) const {
    if (!pair_member() || !m_takeover_at) return 0;
    const TimeMs grace = m_config.takeover_grace_ms;
    const TimeMs end = std::min(m_last_synced > m_takeover_at ? m_last_synced + kSyncSettleMs : m_takeover_at + grace,
                                m_takeover_at + kMaxGraceFactor * grace);
    return now < end ? end - now : 0;
}

// A synced flow carries the binding the peer router made before the takeover. A first packet
// that reached us before conntrackd's commit (without --takeover-grace, or after it ran out) got
// a mapping of ours for the same internal endpoint, or our mapping took the synced external
// endpoint for another one: that one is younger and no outside peer relies on it, so the synced
// binding wins (the cone of RFC 4787 REQ-1 holds across the failover). Ours ends as if expired,
// its kernel flows with it (apply() deletes them; their next packets take the synced one).
void ConntrackEngine::yield_to_synced(const FlowKey& k, TimeMs now) {
    const MappingId mine = m_table.find_outbound(k.proto, k.internal, k.remote, now);
    const MappingId owner = m_table.find_inbound(k.proto, k.external, now);
    for (const MappingId m : {mine, owner == mine ? kNil : owner}) {
        if (m == kNil) continue;
        const Mapping& x = m_table.mapping(m);
        if ((x.external() == k.external && x.internal() == k.internal) || x.forward) continue;
        LOG_INFO("takeover: %s mapping %s -> %s ends: the synced flow of %s holds %s",
                 std::string(ctl::proto_name(x.proto)).c_str(),
                 text::format_endpoint(x.internal()).c_str(), text::format_endpoint(x.external()).c_str(),
                 text::format_endpoint(k.internal).c_str(), text::format_endpoint(k.external).c_str());
        m_yielded.emplace_back(x.proto, x.external());
        m_table.retire(m, now);
        ++m_sync_replaced;
    }
}

} // namespace conenat::engine
