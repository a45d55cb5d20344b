// Unsolicited inbound SYNs waiting out RFC 5382 REQ-4's 6 seconds. The engine keeps the
// packet under a token; an outbound SYN of the same connection releases it.
#pragma once

#include "conenat/core/nat/counters.hpp"
#include "conenat/core/types.hpp"

#include <cstdint>
#include <vector>

namespace conenat::core {

class SynHold {
public:
    // At most `capacity` SYNs at once, `per_source` of them from one remote address (so that
    // one outside host cannot take every place).
    SynHold(std::uint32_t capacity, std::uint32_t per_source) : m_ring(capacity), m_per_source(per_source) {}
    // Holds a SYN to `external` from `remote` until `deadline`. 0 when it cannot, with `why`:
    // full, the source at its bound, or (drop_syn_hold_full) already held.
    std::uint32_t add(Endpoint external, Endpoint remote, TimeMs deadline, Counter& why);
    // The token of a held SYN for this connection, now released (0 if none).
    std::uint32_t release(Endpoint external, Endpoint remote);
    // The token of the oldest held SYN whose time is over and that was not released (0 if none).
    std::uint32_t pop_expired(TimeMs now);
    std::uint32_t size() const { return m_count; }

private:
    struct Entry {
        Endpoint external{}, remote{};
        TimeMs deadline = 0;
        std::uint32_t token = 0; // 0 once released
    };
    Entry* find(Endpoint external, Endpoint remote);
    std::vector<Entry> m_ring; // FIFO: every entry has the same hold time, so it is in deadline order
    std::uint32_t m_per_source;
    std::uint32_t m_head = 0, m_count = 0, m_next_token = 1;
};

} // namespace conenat::core
