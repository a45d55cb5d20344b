// Live reconfiguration of the mapping table (a reload, a renumbered WAN) and its static forwards.
// What exists keeps its behaviours and external endpoint while the new pool holds that endpoint;
// what the new pool lacks ends as if it had expired, so no external endpoint has two owners.
#include "conenat/core/nat/mapping_table.hpp"

#include <algorithm>
#include <optional>
#include <utility>

namespace conenat::core {

namespace {

bool same_pool(const PoolConfig& a, const PoolConfig& b) {
    return a.external_addrs == b.external_addrs && a.ports.ranges() == b.ports.ranges() &&
           a.block_size == b.block_size && a.internal_base == b.internal_base && a.preserve_port == b.preserve_port &&
           a.preserve_parity == b.preserve_parity && a.quarantine_ms == b.quarantine_ms &&
           a.quarantine_max == b.quarantine_max && a.port_key == b.port_key;
}

bool same_timers(const Timeouts& a, const Timeouts& b) {
    return a.udp_ms == b.udp_ms && a.tcp_established_ms == b.tcp_established_ms &&
           a.tcp_transitory_ms == b.tcp_transitory_ms && a.icmp_ms == b.icmp_ms && a.udp_short_ms == b.udp_short_ms;
}

// A forward's record: proto, external endpoint (its address resolved), internal endpoint.
struct Active {
    Proto proto;
    Endpoint external, internal;
    bool present = false; // a record of it exists already
};

// The forwards of `c` that can be active now: address 0 resolves to the first external address,
// an address the pool lacks leaves the forward inactive until it comes back; a forward colliding
// with an earlier one (validate() refuses both) is skipped, never given two records.
std::vector<Active> active_forwards(const NatConfig& c, const std::vector<Ipv4>& addrs) {
    std::vector<Active> out;
    for (const Forward& f : c.forwards) {
        if (f.proto == Proto::Icmp || f.external.port == 0 || f.internal.port == 0) continue;
        Endpoint ext = f.external;
        if (ext.addr == 0) {
            if (addrs.empty()) continue;
            ext.addr = addrs.front();
        } else if (std::find(addrs.begin(), addrs.end(), ext.addr) == addrs.end()) {
            continue;
        }
        const bool collides = std::any_of(out.begin(), out.end(), [&](const Active& a) {
            return a.proto == f.proto && (a.external == ext || a.internal == f.internal);
        });
        if (!collides) out.push_back({f.proto, ext, f.internal});
    }
    return out;
}

} // namespace

void MappingTable::reconfigure(const NatConfig& next, TimeMs now) {
    expire(now); // dead records need no port in the new pool
    const bool pool_changed = !same_pool(m_config.pool, next.pool);
    const bool timers_changed = !same_timers(m_config.timeouts, next.timeouts);
    m_config = next;
    grow_tables();
    std::optional<PortAllocator> old;
    if (pool_changed) old = std::exchange(m_ports, PortAllocator(m_config.pool, m_seed ^ 0x5bd1e995u ^ now));
    apply_forwards(pool_changed, now);
    if (old) m_ports.carry_quarantine(*old, now);
    if (timers_changed) retime_lists(now);
    recount_hosts(now);
}

// With a new allocator (`rebuilt`), every kept record claims its endpoint again; a record whose
// endpoint the pool lacks ends. Dynamic mappings that hold a forward's external endpoint or
// its internal endpoint (under any key) end too: the forward serves all the server's traffic.
void MappingTable::apply_forwards(bool rebuilt, TimeMs now) {
    std::vector<Active> want = active_forwards(m_config, m_ports.config().external_addrs);
    for (MappingId id = 0; id < m_mappings.capacity(); ++id) {
        const Mapping& m = m_mappings[id];
        if (m.proto == Proto(0) || !m.forward) continue;
        const auto it = std::find_if(want.begin(), want.end(), [&](const Active& a) {
            return !a.present && a.proto == m.proto && a.external == m.external() && a.internal == m.internal();
        });
        if (it == want.end() || (rebuilt && !m_ports.reserve(m.proto, m.external()) &&
                                 m_ports.config().ports.contains(m.ext_port))) {
            reap_mapping(id, now);
            continue;
        }
        it->present = true;
    }
    for (MappingId id = 0; id < m_mappings.capacity(); ++id) {
        const Mapping& m = m_mappings[id];
        if (m.proto == Proto(0) || m.forward) continue;
        const bool displaced = std::any_of(want.begin(), want.end(), [&](const Active& a) {
            return !a.present && a.proto == m.proto && (a.external == m.external() || a.internal == m.internal());
        });
        if (displaced || (rebuilt && !m_ports.claim(m.proto, m.external()))) reap_mapping(id, now);
    }
    for (const Active& a : want) {
        if (a.present) continue;
        // A port outside the pool's port set is no allocator's to give: reserved by the record alone.
        if (m_ports.config().ports.contains(a.external.port) && !m_ports.reserve(a.proto, a.external)) continue;
        if (m_mappings.live() >= m_mappings.capacity()) break; // forwards never evict; the table is full
        insert(a.proto, a.internal, {}, a.external, now, true);
    }
}

// Capacities only grow (records keep their ids); a smaller limit is enforced by the caps.
void MappingTable::grow_tables() {
    if (m_config.max_mappings > m_mappings.capacity()) {
        m_mappings.grow(m_config.max_mappings);
        m_created_s.resize(m_config.max_mappings);
        m_in2out.reset(m_config.max_mappings);
        m_out2in.reset(m_config.max_mappings);
        for (MappingId id = 0; id < m_mappings.capacity(); ++id) {
            const Mapping& m = m_mappings[id];
            if (m.proto == Proto(0)) continue;
            m_in2out.insert(m_mappings, in2out_hash(m), id);
            m_out2in.insert(m_mappings, out2in_hash(m.proto, m.external()), id);
        }
    }
    if (m_config.max_sessions > m_sessions.capacity()) {
        m_sessions.grow(m_config.max_sessions);
        m_session_index.reset(m_config.max_sessions);
        m_remotes = HostCounts(m_config.max_sessions / 2);
        for (SessionId id = 0; id < m_sessions.capacity(); ++id) {
            const Session& s = m_sessions[id];
            if (s.mapping == kNil) continue;
            m_session_index.insert(m_sessions, session_hash(s.mapping, {s.rem_addr, s.rem_port}), id);
            if (s.inbound) m_remotes.add(s.rem_addr, +1, m_seed);
        }
    }
}

// New timeouts: a record's timer is cut to the new timeout counted from now, so that records
// armed from now on sort after it (the sweep stops at the first record not yet due); a longer
// timeout takes effect at the record's next refresh.
void MappingTable::retime_lists(TimeMs now) {
    std::vector<std::uint32_t> ids;
    auto retime = [&](auto& list, auto& slab, std::uint32_t timeout, auto&& cut) {
        ids.clear();
        for (std::uint32_t id = list.front(); id != kNil; id = slab[id].list_next) {
            ids.push_back(id);
            if (slab[id].deadline > now + timeout) cut(id, now + timeout);
        }
        std::stable_sort(ids.begin(), ids.end(), [&](std::uint32_t a, std::uint32_t b) { return slab[a].deadline < slab[b].deadline; });
        list = {};
        for (const std::uint32_t id : ids) list.push_back(slab, id);
    };
    for (std::uint8_t l = 0; l < kMapLists; ++l)
        retime(m_mapping_lists[l], m_mappings, mapping_timeout(l), [&](MappingId id, TimeMs d) { m_mappings[id].deadline = d; });
    for (std::uint8_t l = 0; l < kSessionLists; ++l)
        retime(m_session_lists[l], m_sessions, session_timeout(l), [&](SessionId id, TimeMs d) {
            m_sessions[id].deadline = d;
            m_mappings[m_sessions[id].mapping].sessions_stale = true; // sessions_until may be too late now
        });
}

// The per-host quota or the blocks may have been switched on or resized: count again (forwards
// are exempt), a host's block in use since its oldest mapping.
void MappingTable::recount_hosts(TimeMs now) {
    m_hosts = HostCounts(counts_hosts() ? m_mappings.capacity() : 0);
    if (!counts_hosts()) return;
    for (MappingId id = 0; id < m_mappings.capacity(); ++id)
        if (m_mappings[id].proto != Proto(0) && !m_mappings[id].forward) m_hosts.add(m_mappings[id].int_addr, +1, m_seed, std::uint32_t(now / 1000));
    for (MappingId id = 0; id < m_mappings.capacity(); ++id) {
        const Mapping& m = m_mappings[id];
        if (m.proto == Proto(0) || m.forward) continue;
        const std::uint32_t h = m_hosts.index.find(m_hosts.slab, hash_words(m.int_addr, 0, m_seed),
                                                   [&](const Host& x) { return x.addr == m.int_addr; });
        if (h != kNil) m_hosts.slab[h].since_s = std::min(m_hosts.slab[h].since_s, m_created_s[id]);
    }
}

} // namespace conenat::core
