#include "conenat/core/nat/mapping_table.hpp"

namespace conenat::core {

namespace {

int granularity(Behaviour b) { return int(b); } // EI < AD < APD

// A refresh moves a record to the tail of its deadline list only when its deadline advanced
// by at least this much; otherwise it just rewrites the deadline. Lists stay sorted within
// this tolerance, so a sweep may free a record up to this late; lookups always judge by the
// exact deadline. Without it every packet would touch three other records' cache lines.
constexpr TimeMs kRelinkGranularityMs = 1000;

std::uint64_t proto_word(Proto p, Endpoint e) {
    return std::uint64_t(p) << 48 | std::uint64_t(e.addr) << 16 | e.port;
}

} // namespace

MappingTable::MappingTable(const NatConfig& config, std::uint64_t seed)
    : m_config(config), m_seed(seed), m_ports(config.pool, seed ^ 0x5bd1e995u),
      m_mappings(config.max_mappings), m_in2out(config.max_mappings), m_out2in(config.max_mappings),
      m_sessions(config.max_sessions), m_session_index(config.max_sessions),
      m_hosts(config.per_host_mappings || config.pool.block_size ? config.max_mappings : 0), m_remotes(config.max_sessions / 2),
      m_created_s(config.max_mappings) {
    apply_forwards(false, 0);
}

// RFC 4787 §4.1: the remote part of the mapping key depends on the mapping behaviour.
Endpoint MappingTable::mapping_remote(Behaviour mapping, Endpoint remote) {
    switch (mapping) {
    case Behaviour::EndpointIndependent: return {};
    case Behaviour::AddressDependent: return {remote.addr, 0};
    case Behaviour::AddressAndPortDependent: return remote;
    }
    return {};
}

// When the mapping key is at least as specific as the filter, the key itself is the permit.
bool MappingTable::permits_implied(const Policy& pol) {
    return granularity(pol.mapping) >= granularity(pol.filtering);
}

// Whether mappings of `p` with another mapping behaviour than `current` exist (kept across a
// reconfigure, or forwards): only then do lookups try their keys too.
bool MappingTable::mixed(Proto p, Behaviour current) const {
    const std::uint32_t* n = m_by_behaviour[proto_slot(p)];
    return n[0] + n[1] + n[2] != n[int(current)];
}

void MappingTable::count(const Mapping& m, int delta) {
    m_by_behaviour[proto_slot(m.proto)][int(m.policy.mapping)] += std::uint32_t(delta);
}

bool MappingTable::udp_short(Proto p, std::uint16_t remote_port) const {
    const Timeouts& t = m_config.timeouts;
    return p == Proto::Udp && t.udp_short_ms && remote_port < t.udp_short_ports.size() && t.udp_short_ports[remote_port];
}

std::uint8_t MappingTable::mapping_list(Proto p, std::uint16_t remote_port) const {
    if (udp_short(p, remote_port)) return kMapUdpShort;
    return std::uint8_t(p == Proto::Udp ? kMapUdp : p == Proto::Tcp ? kMapTcp : kMapIcmp);
}

std::uint32_t MappingTable::mapping_timeout(std::uint8_t list) const {
    const Timeouts& t = m_config.timeouts;
    switch (list) {
    case kMapUdp: return t.udp_ms;
    case kMapUdpShort: return t.udp_short_ms;
    case kMapIcmp: return t.icmp_ms;
    default: return t.tcp_transitory_ms;
    }
}

std::uint32_t MappingTable::session_timeout(std::uint8_t list) const {
    const Timeouts& t = m_config.timeouts;
    switch (list) {
    case kPermitUdp: return t.udp_ms;
    case kPermitUdpShort: return t.udp_short_ms;
    case kPermitIcmp: return t.icmp_ms;
    case kTcpEst: return t.tcp_established_ms;
    default: return t.tcp_transitory_ms;
    }
}

std::uint64_t MappingTable::in2out_hash(const Mapping& m) const {
    return hash_words(proto_word(m.proto, m.internal()), std::uint64_t(m.rem_addr) << 16 | m.rem_port, m_seed);
}

std::uint64_t MappingTable::out2in_hash(Proto p, Endpoint ext) const {
    return hash_words(proto_word(p, ext), 0, m_seed);
}

std::uint64_t MappingTable::session_hash(MappingId m, Endpoint remote) const {
    return hash_words(std::uint64_t(m) << 16 | remote.port, remote.addr, m_seed);
}

// A mapping outlives its own timer while a session of it is live (a TCP connection, a kernel
// flow). Judged exactly: sessions_until caches the latest session deadline seen, and is
// recomputed from the mapping's sessions only after a deadline went down.
bool MappingTable::live(MappingId id, TimeMs now) {
    Mapping& m = m_mappings[id];
    if (m.deadline > now || m.held || m_release_check || m.list == kMapDue) return true;
    if (m.sessions == 0) return false;
    if (m.sessions_stale) {
        m.sessions_until = 0;
        for (SessionId s = m.first_session; s != kNil; s = m_sessions[s].map_next)
            if (m_sessions[s].deadline > m.sessions_until) m.sessions_until = m_sessions[s].deadline;
        m.sessions_stale = false;
    }
    return m.sessions_until > now;
}

// At most one record per key, live or dead (a dead one is reaped before a new one is made).
MappingId MappingTable::find_mapping(Proto p, Endpoint internal, Endpoint r) const {
    Mapping key;
    key.proto = p;
    key.int_addr = internal.addr;
    key.int_port = internal.port;
    key.rem_addr = r.addr;
    key.rem_port = r.port;
    return m_in2out.find(m_mappings, in2out_hash(key), [&](const Mapping& m) {
        return m.proto == p && m.int_addr == key.int_addr && m.int_port == key.int_port &&
               m.rem_addr == key.rem_addr && m.rem_port == key.rem_port;
    });
}

MappingId MappingTable::find_outbound(Proto p, Endpoint internal, Endpoint remote, TimeMs now) {
    const Behaviour current = m_config.policy(p).mapping;
    if (!mixed(p, current)) {
        const MappingId id = find_mapping(p, internal, mapping_remote(current, remote));
        return id != kNil && live(id, now) ? id : kNil;
    }
    // The most specific key first: a flow keeps the mapping it started on while that lives,
    // even after a mapping of its internal endpoint with a wider key appeared.
    for (const Behaviour b : {Behaviour::AddressAndPortDependent, Behaviour::AddressDependent, Behaviour::EndpointIndependent}) {
        if (b != current && m_by_behaviour[proto_slot(p)][int(b)] == 0) continue;
        const MappingId id = find_mapping(p, internal, mapping_remote(b, remote));
        if (id != kNil && live(id, now)) return id;
    }
    return kNil;
}

MappingId MappingTable::find_inbound(Proto p, Endpoint external, TimeMs now) {
    const MappingId id = m_out2in.find(m_mappings, out2in_hash(p, external), [&](const Mapping& m) {
        return m.proto == p && m.ext_addr == external.addr && m.ext_port == external.port;
    });
    return id != kNil && live(id, now) ? id : kNil;
}

// RFC 6888 REQ-4 / REQ-11: refuse, never evict, when a limit is reached.
Counter MappingTable::admit(Proto, Ipv4 host) const {
    if (m_mappings.live() >= m_config.max_mappings) return Counter::drop_mapping_cap;
    if (m_config.per_host_mappings && m_hosts.get(host, m_seed) >= m_config.per_host_mappings)
        return Counter::drop_host_quota;
    return Counter::translated_out;
}

// Sessions opened from outside: bounded per mapping, per remote address and in all.
Counter MappingTable::admit_inbound(const Mapping& m, Ipv4 remote) const {
    if (m.inbound >= m_config.max_inbound_per_mapping || m_inbound_total >= m_config.max_sessions / 2 ||
        m_remotes.get(remote, m_seed) >= m_config.max_inbound_per_remote)
        return Counter::drop_inbound_limit;
    return Counter::translated_in;
}

// Frees a mapping and its sessions as their expiry would (observer told): a dead one, or
// (reconfigure) one the new config ends, between packets, so no caller holds any of them.
void MappingTable::reap_mapping(MappingId id, TimeMs now) {
    while (m_mappings[id].first_session != kNil) destroy_session(m_mappings[id].first_session, now, false);
    destroy_mapping(id, now);
}

MappingId MappingTable::create(Proto p, Endpoint internal, Endpoint remote, TimeMs now, Counter& why) {
    const Endpoint key = mapping_remote(m_config.policy(p).mapping, remote);
    if (const MappingId old = find_mapping(p, internal, key); old != kNil) {
        if (live(old, now)) { // callers create only after find_outbound() found none
            why = Counter::drop_mapping_cap;
            return kNil;
        }
        reap_mapping(old, now);
    }
    why = admit(p, internal.addr);
    if (why != Counter::translated_out) return kNil;
    if (m_config.pool.block_size && !m_ports.block_for(internal.addr)) {
        why = Counter::drop_no_port_block;
        return kNil;
    }
    const auto ext = m_ports.allocate(p, internal, now);
    if (!ext) {
        why = Counter::drop_ports_exhausted;
        return kNil;
    }
    return insert(p, internal, remote, *ext, now);
}

MappingId MappingTable::adopt(Proto p, Endpoint internal, Endpoint remote, Endpoint external, TimeMs now,
                              Counter& why) {
    const Endpoint key = mapping_remote(m_config.policy(p).mapping, remote);
    if (const MappingId old = find_mapping(p, internal, key); old != kNil) {
        if (live(old, now)) {
            why = Counter::drop_ports_exhausted;
            return kNil;
        }
        reap_mapping(old, now);
    }
    const MappingId owner = m_out2in.find(m_mappings, out2in_hash(p, external), [&](const Mapping& m) {
        return m.proto == p && m.ext_addr == external.addr && m.ext_port == external.port;
    });
    if (owner != kNil && !live(owner, now)) reap_mapping(owner, now);
    why = admit(p, internal.addr);
    if (why != Counter::translated_out) return kNil;
    // A quarantined port (RFC 6888 REQ-8) is taken too: the kernel's flow already uses it (a
    // state sync brings the peer router's flow onto a port that expired here).
    if (!m_ports.reserve(p, external)) {
        why = Counter::drop_ports_exhausted;
        return kNil;
    }
    return insert(p, internal, remote, external, now);
}

// A forward is EIM/EIF whatever the NAT type, and never expires: its deadline is never reached,
// so it is never armed (on no deadline list) and no sweep or lookup finds it dead.
MappingId MappingTable::insert(Proto p, Endpoint internal, Endpoint remote, Endpoint external, TimeMs now,
                               bool forward) {
    const MappingId id = m_mappings.alloc();
    Mapping& m = m_mappings[id];
    m.proto = p;
    m.forward = forward;
    m.policy = forward ? Policy{} : m_config.policy(p);
    m.int_addr = internal.addr;
    m.int_port = internal.port;
    const Endpoint r = mapping_remote(m.policy.mapping, remote);
    m.rem_addr = r.addr;
    m.rem_port = r.port;
    m.ext_addr = external.addr;
    m.ext_port = external.port;
    m.list = kParked;
    m_created_s[id] = std::uint32_t(now / 1000);
    m_in2out.insert(m_mappings, in2out_hash(m), id);
    m_out2in.insert(m_mappings, out2in_hash(p, external), id);
    count(m, +1);
    if (forward)
        m.deadline = kForever;
    else
        arm_mapping(id, now, remote.port);
    if (counts_hosts() && !forward) {
        const Host h = m_hosts.add(internal.addr, +1, m_seed, m_created_s[id]);
        if (h.count == 1) tell_block(h, true, now);
    }
    m_counters.add(Counter::mappings_created);
    if (m_observer) m_observer->mapping_created(m, now);
    return id;
}

// Refreshes never shorten a timer: a short (REQ-5a) refresh leaves a longer deadline alone.
void MappingTable::arm_mapping(MappingId id, TimeMs now, std::uint16_t remote_port) {
    Mapping& m = m_mappings[id];
    const std::uint8_t list = mapping_list(m.proto, remote_port);
    const TimeMs deadline = now + mapping_timeout(list);
    if (deadline <= m.deadline) return; // a parked mapping's own timer is over: any new one is later
    if (m.list == list && deadline < m.deadline + kRelinkGranularityMs) {
        m.deadline = deadline;
        return;
    }
    unlist_mapping(id);
    m.list = list;
    m.deadline = deadline;
    m_mapping_lists[list].push_back(m_mappings, id);
}

void MappingTable::arm_session(SessionId id, std::uint8_t list, TimeMs now) {
    Session& s = m_sessions[id];
    if (s.refs) return; // held by a kernel flow: no timer until it ends
    const TimeMs deadline = now + session_timeout(list);
    Mapping& m = m_mappings[s.mapping];
    if (deadline < s.deadline) m.sessions_stale = true; // e.g. established -> transitory
    if (deadline > m.sessions_until) m.sessions_until = deadline;
    if (s.list == list && deadline < s.deadline + kRelinkGranularityMs) {
        s.deadline = deadline;
        return;
    }
    if (s.list != kParked) m_session_lists[s.list].remove(m_sessions, id);
    s.list = list;
    s.deadline = deadline;
    m_session_lists[list].push_back(m_sessions, id);
}

bool MappingTable::refresh_outbound(MappingId id, Endpoint remote, TimeMs now) {
    const Proto p = m_mappings[id].proto;
    const Policy pol = m_mappings[id].policy;
    arm_mapping(id, now, remote.port);
    const Behaviour f = pol.filtering;
    // TCP under APDF: the connection itself is the permit.
    if (permits_implied(pol) || (p == Proto::Tcp && f == Behaviour::AddressAndPortDependent)) return true;
    const Endpoint key{remote.addr, f == Behaviour::AddressDependent ? std::uint16_t(0) : remote.port};
    const std::uint8_t list = permit_list(p, remote.port);
    const SessionId s = find_session(id, key, now);
    if (s != kNil) {
        if (now + session_timeout(list) > m_sessions[s].deadline) arm_session(s, list, now);
        return true;
    }
    return add_session(id, key, list, now) != kNil;
}

std::uint8_t MappingTable::permit_list(Proto p, std::uint16_t remote_port) const {
    if (udp_short(p, remote_port)) return kPermitUdpShort;
    return std::uint8_t(p == Proto::Udp ? kPermitUdp : p == Proto::Tcp ? kPermitTcp : kPermitIcmp);
}

bool MappingTable::permits(MappingId id, Endpoint remote, TimeMs now) {
    const Mapping& m = m_mappings[id];
    switch (m.policy.filtering) { // the mapping's own filtering (RFC 4787 §5), kept across a reconfigure
    case Behaviour::EndpointIndependent: return true;
    case Behaviour::AddressDependent:
        if (permits_implied(m.policy)) return m.rem_addr == remote.addr;
        return find_session(id, {remote.addr, 0}, now) != kNil;
    case Behaviour::AddressAndPortDependent:
        if (permits_implied(m.policy)) return m.rem_addr == remote.addr && m.rem_port == remote.port;
        return find_session(id, remote, now) != kNil;
    }
    return false;
}

SessionId MappingTable::find_record(MappingId m, Endpoint remote) const {
    return m_session_index.find(m_sessions, session_hash(m, remote), [&](const Session& s) {
        return s.mapping == m && s.rem_addr == remote.addr && s.rem_port == remote.port;
    });
}

SessionId MappingTable::find_session(MappingId m, Endpoint remote, TimeMs now) {
    const SessionId id = find_record(m, remote);
    return id != kNil && live(m_sessions[id], now) ? id : kNil;
}

// `m` is live (the caller holds it), so reaping a dead session of it never frees `m`.
SessionId MappingTable::add_session(MappingId m, Endpoint remote, std::uint8_t list, TimeMs now, bool inbound) {
    if (const SessionId old = find_record(m, remote); old != kNil) {
        if (live(m_sessions[old], now)) { // one record per key: a live one serves again
            arm_session(old, list, now);
            return old;
        }
        destroy_session(old, now, false);
    }
    const SessionId id = m_sessions.live() < m_config.max_sessions ? m_sessions.alloc() : kNil;
    if (id == kNil) {
        m_counters.add(Counter::drop_session_cap);
        return kNil;
    }
    Mapping& map = m_mappings[m];
    Session& s = m_sessions[id];
    s.mapping = m;
    s.rem_addr = remote.addr;
    s.rem_port = remote.port;
    s.list = list;
    s.deadline = now + session_timeout(list);
    s.inbound = inbound;
    m_session_lists[list].push_back(m_sessions, id);
    m_session_index.insert(m_sessions, session_hash(m, remote), id);
    s.map_next = map.first_session;
    if (map.first_session != kNil) m_sessions[map.first_session].map_prev = id;
    map.first_session = id;
    ++map.sessions;
    if (s.deadline > map.sessions_until) map.sessions_until = s.deadline;
    if (inbound) {
        ++map.inbound;
        ++m_inbound_total;
        m_remotes.add(remote.addr, +1, m_seed);
    }
    m_counters.add(Counter::sessions_created);
    return id;
}

SessionId MappingTable::find_connection(MappingId m, Endpoint remote, TimeMs now) {
    const SessionId id = find_session(m, remote, now);
    return id != kNil && m_sessions[id].tcp != TcpState::None ? id : kNil;
}

SessionId MappingTable::open_connection(MappingId m, Endpoint remote, TcpState state, TimeMs now, Direction dir,
                                        Counter& why) {
    why = Counter::drop_session_cap;
    if (dir == Direction::Inbound) {
        why = admit_inbound(m_mappings[m], remote.addr);
        if (why != Counter::translated_in) return kNil;
        why = Counter::drop_session_cap;
    }
    const SessionId id = add_session(m, remote, tcp_long_lived(state) ? kTcpEst : kTcpTrans, now, dir == Direction::Inbound);
    if (id != kNil) m_sessions[id].tcp = state;
    return id;
}

void MappingTable::set_connection_state(SessionId id, TcpState state, TimeMs now, bool refresh) {
    Session& s = m_sessions[id];
    const std::uint8_t list = tcp_long_lived(state) ? kTcpEst : kTcpTrans;
    s.tcp = state;
    if (refresh || list != s.list) arm_session(id, list, now);
}

void MappingTable::prefetch(Direction dir, Proto p, Endpoint local, Endpoint remote, int step) const {
    std::uint64_t hash;
    const std::uint32_t* bucket;
    if (dir == Direction::Outbound) {
        const Endpoint r = mapping_remote(m_config.policy(p).mapping, remote);
        hash = hash_words(proto_word(p, local), std::uint64_t(r.addr) << 16 | r.port, m_seed);
        bucket = m_in2out.bucket(hash);
    } else {
        hash = out2in_hash(p, local);
        bucket = m_out2in.bucket(hash);
    }
    if (step == 0) return __builtin_prefetch(bucket);
    const MappingId m = *bucket; // most chains are one record long
    if (m == kNil) return;
    if (step == 1) { // a 72-byte record may straddle two cache lines
        __builtin_prefetch(m_mappings.data() + m);
        __builtin_prefetch(reinterpret_cast<const char*>(m_mappings.data() + m) + sizeof(Mapping) - 1);
    }
    if (permits_implied(m_config.policy(p)) && p != Proto::Tcp) return;
    const Behaviour f = m_config.policy(p).filtering;
    const Endpoint key{remote.addr, f == Behaviour::AddressDependent ? std::uint16_t(0) : remote.port};
    const std::uint32_t* sbucket = m_session_index.bucket(session_hash(m, key));
    if (step == 1) return __builtin_prefetch(sbucket);
    if (*sbucket != kNil) __builtin_prefetch(m_sessions.data() + *sbucket);
}

std::uint32_t MappingTable::expire(TimeMs now, std::uint32_t budget) {
    std::uint32_t done = 0;
    for (auto& list : m_session_lists)
        for (SessionId s; done < budget && (s = list.front()) != kNil && m_sessions[s].deadline <= now; ++done)
            destroy_session(s, now);
    for (std::uint8_t l = 0; l < kMapLists; ++l)
        for (MappingId m; done < budget && (m = m_mapping_lists[l].front()) != kNil && m_mappings[m].deadline <= now;
             ++done) {
            if (m_mappings[m].sessions == 0) {
                mapping_over(m, now);
            } else { // sessions outlive the mapping's own timer: park it until the last one goes
                m_mapping_lists[l].remove(m_mappings, m);
                m_mappings[m].list = kParked;
            }
        }
    return done;
}

// Only dead sessions are destroyed. `cascade`: also free the mapping if that was its last
// session and its own timer is over (the sweep); never while a caller may hold the mapping.
void MappingTable::destroy_session(SessionId id, TimeMs now, bool cascade) {
    Session& s = m_sessions[id];
    if (s.list != kParked) m_session_lists[s.list].remove(m_sessions, id);
    m_session_index.erase(m_sessions, session_hash(s.mapping, {s.rem_addr, s.rem_port}), id);
    const MappingId m = s.mapping;
    Mapping& map = m_mappings[m];
    (s.map_prev == kNil ? map.first_session : m_sessions[s.map_prev].map_next) = s.map_next;
    if (s.map_next != kNil) m_sessions[s.map_next].map_prev = s.map_prev;
    if (s.inbound) {
        --map.inbound;
        --m_inbound_total;
        m_remotes.add(s.rem_addr, -1, m_seed);
    }
    s.mapping = kNil; // marks the slot free for consistency_error()
    m_sessions.free(id);
    m_counters.add(Counter::sessions_removed);
    if (--map.sessions == 0 && cascade && map.deadline <= now) {
        mapping_over(m, now);
    } else if (map.sessions == 0 && map.list == kParked && !map.forward) {
        // Its own timer ran out while sessions kept it: back on its list, due now.
        map.list = mapping_list(map.proto, 0);
        m_mapping_lists[map.list].push_front(m_mappings, m);
    }
}

// Only a dead mapping whose last session record is gone (the sweep, a session's cascade, a reap).
void MappingTable::destroy_mapping(MappingId id, TimeMs now) {
    Mapping& m = m_mappings[id];
    unlist_mapping(id);
    m_in2out.erase(m_mappings, in2out_hash(m), id);
    m_out2in.erase(m_mappings, out2in_hash(m.proto, m.external()), id);
    // RFC 6888 REQ-8: quarantine freed ports, except TCP (fully tracked), ADF/APDF mappings and
    // forwards (a reserved port the owner gives back).
    const bool quarantine = m.proto != Proto::Tcp && m.policy.filtering == Behaviour::EndpointIndependent && !m.forward;
    m_ports.release(m.proto, m.external(), now, quarantine);
    Host host;
    if (counts_hosts() && !m.forward) host = m_hosts.add(m.int_addr, -1, m_seed);
    count(m, -1);
    m_counters.add(Counter::mappings_removed);
    if (m_observer) m_observer->mapping_removed(m, TimeMs(m_created_s[id]) * 1000, now);
    if (host.addr && host.count == 0) tell_block(host, false, now);
    m.proto = Proto(0); // marks the slot free for consistency_error()
    m_mappings.free(id);
}

void MappingTable::unlist_mapping(MappingId id) {
    Mapping& m = m_mappings[id];
    if (m.list == kParked) return;
    m_mapping_lists[m.list].remove(m_mappings, id);
    if (m.list == kMapDue) --m_due;
    m.list = kParked;
}

void MappingTable::mapping_over(MappingId id, TimeMs now) {
    if (!m_release_check) {
        destroy_mapping(id, now);
        return;
    }
    unlist_mapping(id);
    m_mappings[id].list = kMapDue;
    m_mapping_lists[kMapDue].push_back(m_mappings, id);
    ++m_due;
}

bool MappingTable::settle(MappingId id, TimeMs now) {
    if (m_mappings[id].list != kMapDue) return false;
    if (m_mappings[id].sessions == 0) {
        destroy_mapping(id, now);
        return true;
    }
    unlist_mapping(id); // parked: its last session's end brings it back
    return false;
}

std::uint32_t MappingTable::HostCounts::get(Ipv4 addr, std::uint64_t seed) const {
    const std::uint32_t id = index.find(slab, hash_words(addr, 0, seed), [&](const Host& h) { return h.addr == addr; });
    return id == kNil ? 0 : slab[id].count;
}

// Capacity is the most records that can be counted at once, so an entry can always be had.
MappingTable::Host MappingTable::HostCounts::add(Ipv4 addr, int delta, std::uint64_t seed, std::uint32_t now_s) {
    const std::uint64_t hash = hash_words(addr, 0, seed);
    std::uint32_t id = index.find(slab, hash, [&](const Host& h) { return h.addr == addr; });
    if (id == kNil) {
        if (delta < 0) return {};
        id = slab.alloc();
        if (id == kNil) return {};
        slab[id].addr = addr;
        slab[id].since_s = now_s;
        index.insert(slab, hash, id);
    }
    slab[id].count += std::uint32_t(delta);
    const Host now = slab[id];
    if (slab[id].count == 0) {
        index.erase(slab, hash, id);
        slab.free(id);
    }
    return now;
}

// RFC 7422 §2.2: the block is logged once when its host starts using it and once when it stops,
// with the external address and port range (the host's port is then implied by the block).
void MappingTable::tell_block(const Host& h, bool used, TimeMs now) {
    if (!m_observer || !m_config.pool.block_size) return;
    const auto block = m_ports.block_for(h.addr);
    if (!block || block->count == 0) return;
    const PoolConfig& pool = m_ports.config();
    const BlockUse u{h.addr, pool.external_addrs[block->addr_index], pool.ports.at(block->first_index),
                     pool.ports.at(block->first_index + block->count - 1), h.since_s};
    if (used) m_observer->block_allocated(u, now);
    else m_observer->block_released(u, now);
}

std::uint32_t MappingTable::inbound_sessions_of(Ipv4 remote) const { return m_remotes.get(remote, m_seed); }

std::string MappingTable::consistency_error() const {
    std::vector<std::uint32_t> sessions_of(m_mappings.capacity(), 0);
    std::uint32_t live_sessions = 0;
    for (SessionId id = 0; id < m_sessions.capacity(); ++id) {
        const Session& s = m_sessions[id];
        if (s.mapping == kNil) continue; // free slot
        if (s.mapping >= m_mappings.capacity() || m_mappings[s.mapping].proto == Proto(0))
            return "session " + std::to_string(id) + " belongs to a dead mapping";
        const Endpoint r{s.rem_addr, s.rem_port};
        const SessionId found = m_session_index.find(m_sessions, session_hash(s.mapping, r), [&](const Session& o) {
            return o.mapping == s.mapping && o.rem_addr == r.addr && o.rem_port == r.port;
        });
        if (found != id) return "session " + std::to_string(id) + " is not reachable through its index";
        if (s.list == kParked && s.refs == 0) return "session " + std::to_string(id) + " has no timer and no flow";
        ++sessions_of[s.mapping];
        ++live_sessions;
    }
    if (live_sessions != m_sessions.live()) return "session count is off";
    std::uint32_t live = 0, by_behaviour[3][3] = {};
    for (MappingId id = 0; id < m_mappings.capacity(); ++id) {
        const Mapping& m = m_mappings[id];
        if (m.proto == Proto(0)) continue;
        const std::string name = "mapping " + std::to_string(id);
        const MappingId first = m_in2out.find(m_mappings, in2out_hash(m), [&](const Mapping& o) {
            return o.proto == m.proto && o.int_addr == m.int_addr && o.int_port == m.int_port &&
                   o.rem_addr == m.rem_addr && o.rem_port == m.rem_port;
        });
        if (first != id) return name + " shares its internal key with mapping " + std::to_string(first);
        const MappingId owner = m_out2in.find(m_mappings, out2in_hash(m.proto, m.external()), [&](const Mapping& o) {
            return o.proto == m.proto && o.ext_addr == m.ext_addr && o.ext_port == m.ext_port;
        });
        if (owner != id) return name + " shares its external endpoint with mapping " + std::to_string(owner);
        // A forward's port may lie outside the pool's port set: then no allocator draws it anyway.
        const bool pooled = !m.forward || m_ports.config().ports.contains(m.ext_port);
        if (pooled && !m_ports.in_use(m.proto, m.external())) return name + " holds a port the allocator thinks free";
        if (m.sessions != sessions_of[id]) return name + " miscounts its sessions";
        std::uint32_t linked = 0, held = 0, inbound = 0;
        for (SessionId s = m.first_session; s != kNil && linked <= m.sessions; s = m_sessions[s].map_next, ++linked) {
            if (m_sessions[s].mapping != id) return name + " links a session of another mapping";
            held += m_sessions[s].refs != 0;
            inbound += m_sessions[s].inbound;
        }
        if (linked != m.sessions) return name + " does not link all its sessions";
        if (held != m.held || inbound != m.inbound) return name + " miscounts its held or inbound sessions";
        if (m.list == kParked && m.sessions == 0 && !m.forward) return name + " has no timer and no session";
        if (m.forward != (m.deadline == kForever)) return name + " is a forward with a timer, or the reverse";
        ++by_behaviour[proto_slot(m.proto)][int(m.policy.mapping)];
        ++live;
    }
    if (live != m_mappings.live()) return "mapping count is off";
    for (int s = 0; s < 3; ++s)
        for (int b = 0; b < 3; ++b)
            if (by_behaviour[s][b] != m_by_behaviour[s][b]) return "mappings per behaviour are miscounted";
    return {};
}

std::size_t MappingTable::memory_bytes() const {
    return m_mappings.bytes() + m_in2out.bytes() + m_out2in.bytes() + m_sessions.bytes() + m_session_index.bytes() +
           m_hosts.bytes() + m_remotes.bytes() + m_created_s.size() * sizeof(std::uint32_t);
}

} // namespace conenat::core
