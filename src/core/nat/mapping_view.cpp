// Read-only listing of the table (conenatctl): live records only, judged as the lookups judge
// them, without touching the cached session deadline (the caller may hold only a const table).
#include "conenat/core/nat/mapping_table.hpp"

#include <algorithm>

namespace conenat::core {

namespace {
// What every row of `m` starts with.
template <typename Row>
Row row_of(const Mapping& m) {
    Row r;
    r.proto = m.proto;
    r.internal = m.internal();
    r.external = m.external();
    return r;
}
} // namespace

// Live as live(MappingId) says; `until`: when it ends if nothing happens (kNoExpiry: held).
bool MappingTable::live_view(const Mapping& m, TimeMs now, TimeMs* until) const {
    TimeMs end = m.deadline;
    bool held = m.forward || m.held > 0 || m.list == kMapDue; // due: live until settled
    for (SessionId s = m.first_session; s != kNil; s = m_sessions[s].map_next) {
        const Session& r = m_sessions[s];
        if (r.refs) held = true;
        end = std::max(end, r.deadline);
    }
    *until = held ? kNoExpiry : end;
    return held || end > now;
}

bool MappingTable::view_mappings(TimeMs now, const ViewFilter& filter, std::size_t limit,
                                 std::vector<MappingRow>& out) const {
    for (MappingId id = 0; id < m_mappings.capacity(); ++id) {
        const Mapping& m = m_mappings[id];
        if (m.proto == Proto(0) || !filter.matches(m.proto, m.internal(), m.external())) continue;
        TimeMs until = 0;
        if (!live_view(m, now, &until)) continue;
        if (out.size() >= limit) return false;
        MappingRow r = row_of<MappingRow>(m);
        r.remote = {m.rem_addr, m.rem_port};
        r.policy = m.policy;
        r.forward = m.forward;
        if (!m.forward && m.list < kMapLists) {
            const TimeMs timeout = mapping_timeout(m.list);
            const TimeMs left = m.deadline > now ? m.deadline - now : 0;
            r.idle_ms = timeout > left ? timeout - left : 0;
            if (m.deadline <= now) r.idle_ms = timeout + (now - m.deadline);
        }
        r.expires_in_ms = until == kNoExpiry ? kNoExpiry : until - now;
        r.sessions = m.sessions;
        r.flows = m.held;
        r.inbound = m.inbound;
        out.push_back(r);
    }
    return true;
}

bool MappingTable::view_sessions(TimeMs now, const ViewFilter& filter, std::size_t limit,
                                 std::vector<SessionRow>& out) const {
    for (SessionId id = 0; id < m_sessions.capacity(); ++id) {
        const Session& s = m_sessions[id];
        if (s.mapping == kNil) continue;
        const Mapping& m = m_mappings[s.mapping];
        if (m.proto == Proto(0) || !filter.matches(m.proto, m.internal(), m.external())) continue;
        if (!live(s, now)) continue;
        if (out.size() >= limit) return false;
        SessionRow r = row_of<SessionRow>(m);
        r.remote = {s.rem_addr, s.rem_port};
        r.tcp = s.tcp;
        r.inbound = s.inbound;
        r.flows = s.refs;
        r.expires_in_ms = s.refs ? kNoExpiry : s.deadline - now;
        out.push_back(r);
    }
    return true;
}

} // namespace conenat::core
