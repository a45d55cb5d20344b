// Unsolicited inbound SYNs waiting out RFC 5382 REQ-4's 6 seconds, with their packets: the one
// store of held SYNs for every engine. The core decides (holds, releases, expires, by token);
// an engine that keeps a held packet in a queue says so (keep), and gets it back by its token
// when the SYN is released or expires (take), with what an ICMP 3/3 can quote of it.
#pragma once

#include "conenat/core/nat/counters.hpp"
#include "conenat/core/packet/icmp_build.hpp"
#include "conenat/core/types.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace conenat::core {

class SynHold {
public:
    // What a 3/3 can quote of a held SYN.
    static constexpr std::size_t kQuoteBytes = icmp::kErrorQuoteBytes;

    // A held SYN's packet, and the engine's own names for it (an NFQUEUE packet id and queue).
    struct Held {
        std::uint32_t token = 0;
        std::uint32_t handle = 0;
        std::uint8_t tag = 0;
        std::span<const std::uint8_t> packet() const { return {m_bytes.data(), m_len}; }

    private:
        friend class SynHold;
        bool m_kept = false;
        std::uint16_t m_len = 0;
        std::array<std::uint8_t, kQuoteBytes> m_bytes{};
    };

    // At most `capacity` SYNs at once, `per_source` of them from one remote address (so that
    // one outside host cannot take every place).
    SynHold(std::uint32_t capacity, std::uint32_t per_source);
    // A reconfigure's new bound per source address; the capacity stays (held tokens stay valid).
    void set_per_source(std::uint32_t per_source) { m_per_source = per_source; }
    // Holds SYN `pkt` to `external` from `remote` until `deadline`. 0 when it cannot, with `why`:
    // full, the source at its bound, or (drop_syn_hold_full) already held.
    std::uint32_t add(Endpoint external, Endpoint remote, TimeMs deadline, std::span<const std::uint8_t> pkt,
                      Counter& why);
    // The engine keeps the packet held under `token` until take(); false for a token not held.
    bool keep(std::uint32_t token, std::uint32_t handle = 0, std::uint8_t tag = 0);
    // The token of a held SYN for this connection, now released (0 if none).
    std::uint32_t release(Endpoint external, Endpoint remote);
    // The token of the oldest held SYN whose time is over and that was not released (0 if none).
    std::uint32_t pop_expired(TimeMs now);
    // The packet of released or expired `token` if the engine keeps it, no longer kept
    // (nullptr: it keeps none, e.g. it handed the packet to another worker). Valid until add().
    const Held* take(std::uint32_t token);
    // take() of every packet the engine keeps (at stop).
    template <typename F>
    void take_all(F&& f) {
        for (Entry& e : m_ring)
            if (e.held.m_kept) {
                e.held.m_kept = false;
                --m_kept;
                f(static_cast<const Held&>(e.held));
            }
    }
    std::uint32_t size() const { return m_count; } // SYNs held (or released, until their time is over)
    std::uint32_t kept() const { return m_kept; }  // packets the engine keeps

private:
    struct Entry {
        Endpoint external{}, remote{};
        TimeMs deadline = 0;
        bool waiting = false;    // held: neither released nor expired
        std::uint32_t generation = 0;
        Held held;
    };
    Entry* find(Endpoint external, Endpoint remote);
    Entry* entry_of(std::uint32_t token);
    std::vector<Entry> m_ring; // FIFO: every entry has the same hold time, so it is in deadline order
    std::uint32_t m_per_source;
    std::uint32_t m_generations; // a token is slot + 1 + capacity * generation: its slot is found at once
    std::uint32_t m_head = 0, m_count = 0, m_kept = 0;
};

} // namespace conenat::core
