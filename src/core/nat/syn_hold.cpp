#include "conenat/core/nat/syn_hold.hpp"

#include <utility>

namespace conenat::core {

SynHold::Entry* SynHold::find(Endpoint external, Endpoint remote) {
    for (std::uint32_t i = 0; i < m_count; ++i) {
        Entry& e = m_ring[(m_head + i) % m_ring.size()];
        if (e.token && e.external == external && e.remote == remote) return &e;
    }
    return nullptr;
}

std::uint32_t SynHold::add(Endpoint external, Endpoint remote, TimeMs deadline, Counter& why) {
    why = Counter::drop_syn_hold_full;
    if (m_count == m_ring.size()) return 0;
    std::uint32_t from_source = 0;
    for (std::uint32_t i = 0; i < m_count; ++i) {
        const Entry& e = m_ring[(m_head + i) % m_ring.size()];
        if (!e.token) continue;
        if (e.external == external && e.remote == remote) return 0; // a retransmission is not held twice
        from_source += e.remote.addr == remote.addr;
    }
    if (from_source >= m_per_source) {
        why = Counter::drop_syn_hold_source;
        return 0;
    }
    Entry& e = m_ring[(m_head + m_count++) % m_ring.size()];
    e = {external, remote, deadline, m_next_token};
    if (++m_next_token == 0) m_next_token = 1;
    return e.token;
}

std::uint32_t SynHold::release(Endpoint external, Endpoint remote) {
    if (m_count == 0) return 0;
    Entry* e = find(external, remote);
    if (!e) return 0;
    return std::exchange(e->token, 0);
}

std::uint32_t SynHold::pop_expired(TimeMs now) {
    while (m_count && m_ring[m_head].deadline <= now) {
        const std::uint32_t token = m_ring[m_head].token;
        m_head = (m_head + 1) % std::uint32_t(m_ring.size());
        --m_count;
        if (token) return token;
    }
    return 0;
}

} // namespace conenat::core
