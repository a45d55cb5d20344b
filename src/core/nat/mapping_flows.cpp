// Kernel flows (the conntrack engine): a conntrack entry holds the session of its remote, and
// with it the mapping, until the flow ends; lost events are closed by a resync from a dump.
#include "conenat/core/nat/mapping_table.hpp"

namespace conenat::core {

void MappingTable::hold_session(SessionId id) {
    Session& s = m_sessions[id];
    if (s.refs++ != 0) return;
    ++m_mappings[s.mapping].held;
    if (s.list != kParked) {
        m_session_lists[s.list].remove(m_sessions, id);
        s.list = kParked;
    }
}

void MappingTable::unhold_session(SessionId id, TimeMs now) {
    Session& s = m_sessions[id];
    if (s.refs == 0 || --s.refs) return;
    --m_mappings[s.mapping].held;
    s.list = kParked;
    s.deadline = 0; // its timer starts now, whatever it was before the flow held it
    arm_session(id, permit_list(m_mappings[s.mapping].proto, s.rem_port), now);
}

bool MappingTable::flow_begin(MappingId m, Endpoint remote, TimeMs now, Direction origin) {
    SessionId s = find_session(m, remote, now);
    if (s == kNil) {
        if (origin == Direction::Inbound) {
            if (const Counter why = admit_inbound(m_mappings[m], remote.addr); why != Counter::translated_in) {
                m_counters.add(why);
                return false;
            }
        }
        s = add_session(m, remote, permit_list(m_mappings[m].proto, remote.port), now, origin == Direction::Inbound);
    }
    if (s == kNil) return false;
    m_sessions[s].tcp_track = m_epoch;
    if (m_sessions[s].refs) return true; // already live (a resync saw it again)
    hold_session(s);
    // ADF: the flow also holds the address permit its replies' siblings need.
    if (remote.port && m_mappings[m].policy.filtering == Behaviour::AddressDependent &&
        !permits_implied(m_mappings[m].policy)) {
        SessionId a = find_session(m, {remote.addr, 0}, now);
        if (a == kNil) a = add_session(m, {remote.addr, 0}, permit_list(m_mappings[m].proto, remote.port), now);
        if (a != kNil) hold_session(a);
    }
    return true;
}

void MappingTable::flow_end(MappingId m, Endpoint remote, TimeMs now) {
    const SessionId s = find_session(m, remote, now);
    if (s == kNil || m_sessions[s].refs == 0) return; // not a flow we know
    if (remote.port && m_mappings[m].policy.filtering == Behaviour::AddressDependent &&
        !permits_implied(m_mappings[m].policy)) {
        const SessionId a = find_session(m, {remote.addr, 0}, now);
        if (a != kNil) unhold_session(a, now);
    }
    unhold_session(s, now);
    arm_mapping(m, now, remote.port); // RFC 4787 REQ-5: the mapping's timer runs from the end of its last flow
}

void MappingTable::resync_end(TimeMs now) {
    for (SessionId id = 0; id < m_sessions.capacity(); ++id) {
        const Session& s = m_sessions[id];
        if (s.mapping == kNil || s.refs == 0 || s.tcp_track == m_epoch) continue;
        const bool flow = s.rem_port != 0 || m_mappings[s.mapping].proto == Proto::Icmp;
        if (flow) flow_end(s.mapping, {s.rem_addr, s.rem_port}, now);
    }
}

} // namespace conenat::core
