#include "conenat/core/nat/syn_hold.hpp"

#include <algorithm>

namespace conenat::core {

SynHold::SynHold(std::uint32_t capacity, std::uint32_t per_source)
    : m_ring(capacity), m_per_source(per_source),
      m_generations(capacity ? (0xffffffffu - capacity) / capacity + 1 : 1) {}

SynHold::Entry* SynHold::find(Endpoint external, Endpoint remote) {
    for (std::uint32_t i = 0; i < m_count; ++i) {
        Entry& e = m_ring[(m_head + i) % m_ring.size()];
        if (e.waiting && e.external == external && e.remote == remote) return &e;
    }
    return nullptr;
}

SynHold::Entry* SynHold::entry_of(std::uint32_t token) {
    if (token == 0 || m_ring.empty()) return nullptr;
    Entry& e = m_ring[(token - 1) % m_ring.size()];
    return e.held.token == token ? &e : nullptr;
}

std::uint32_t SynHold::add(Endpoint external, Endpoint remote, TimeMs deadline, std::span<const std::uint8_t> pkt,
                           Counter& why) {
    why = Counter::drop_syn_hold_full;
    if (m_count == m_ring.size()) return 0;
    std::uint32_t from_source = 0;
    for (std::uint32_t i = 0; i < m_count; ++i) {
        const Entry& e = m_ring[(m_head + i) % m_ring.size()];
        if (!e.waiting) continue;
        if (e.external == external && e.remote == remote) return 0; // a retransmission is not held twice
        from_source += e.remote.addr == remote.addr;
    }
    if (from_source >= m_per_source) {
        why = Counter::drop_syn_hold_source;
        return 0;
    }
    const std::uint32_t slot = (m_head + m_count++) % std::uint32_t(m_ring.size());
    Entry& e = m_ring[slot];
    if (e.held.m_kept) --m_kept; // (an engine that never took it back)
    e.external = external;
    e.remote = remote;
    e.deadline = deadline;
    e.waiting = true;
    e.generation = (e.generation + 1) % m_generations;
    e.held.token = slot + 1 + std::uint32_t(m_ring.size()) * e.generation;
    e.held.handle = 0;
    e.held.tag = 0;
    e.held.m_kept = false;
    e.held.m_len = std::uint16_t(std::min(pkt.size(), e.held.m_bytes.size()));
    std::copy_n(pkt.begin(), e.held.m_len, e.held.m_bytes.begin());
    return e.held.token;
}

bool SynHold::keep(std::uint32_t token, std::uint32_t handle, std::uint8_t tag) {
    Entry* e = entry_of(token);
    if (!e || e->held.m_kept) return false;
    e->held.handle = handle;
    e->held.tag = tag;
    e->held.m_kept = true;
    ++m_kept;
    return true;
}

std::uint32_t SynHold::release(Endpoint external, Endpoint remote) {
    if (m_count == 0) return 0;
    Entry* e = find(external, remote);
    if (!e) return 0;
    e->waiting = false;
    return e->held.token;
}

std::uint32_t SynHold::pop_expired(TimeMs now) {
    while (m_count && m_ring[m_head].deadline <= now) {
        Entry& e = m_ring[m_head];
        m_head = (m_head + 1) % std::uint32_t(m_ring.size());
        --m_count;
        if (e.waiting) {
            e.waiting = false;
            return e.held.token;
        }
    }
    return 0;
}

const SynHold::Held* SynHold::take(std::uint32_t token) {
    Entry* e = entry_of(token);
    if (!e || !e->held.m_kept) return nullptr;
    e->held.m_kept = false;
    --m_kept;
    return &e->held;
}

} // namespace conenat::core
