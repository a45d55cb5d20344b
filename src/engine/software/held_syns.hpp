// The SYNs a software worker holds for the core (RFC 5382 REQ-4), and what it does when their
// hold time is over. No allocation after construction.
#pragma once

#include "conenat/core/nat/translator.hpp"
#include "conenat/core/packet/icmp_build.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace conenat::engine {

// The SYNs a worker holds (RFC 5382 REQ-4), by the core's token: what an ICMP 3/3 quotes of
// each, and the caller's handle (an NFQUEUE packet id and queue, say). It holds exactly what the
// core's SynHold holds (a token each), so the core's bounds are its bounds: in all and per
// outside address, both shared out between the workers (shard_plan.cpp).
class HeldSyns {
public:
    static constexpr std::size_t kBytes = core::icmp::kErrorQuoteBytes; // what a 3/3 can quote of a held SYN
    struct Entry {
        std::uint32_t token = 0; // 0: free
        std::uint32_t handle = 0;
        std::uint8_t kind = 0;
        std::uint16_t len = 0;
        std::array<std::uint8_t, kBytes> bytes{};
    };

    explicit HeldSyns(std::size_t capacity) : m_entries(capacity) {}
    // False when full (the core holds no more than its configured maximum: cannot happen).
    bool hold(std::uint32_t token, std::span<const std::uint8_t> pkt, std::uint32_t handle = 0, std::uint8_t kind = 0) {
        const auto free = std::find_if(m_entries.begin(), m_entries.end(), [](const Entry& e) { return e.token == 0; });
        if (free == m_entries.end())
            return false;
        free->token = token;
        free->handle = handle;
        free->kind = kind;
        free->len = std::uint16_t(std::min(pkt.size(), free->bytes.size()));
        std::copy_n(pkt.begin(), free->len, free->bytes.begin());
        return true;
    }
    // Removes and returns the entry of `token` (none: a token this worker does not hold).
    const Entry* take(std::uint32_t token) {
        for (Entry& e : m_entries)
            if (e.token == token) {
                e.token = 0;
                return &e; // valid until the next hold()
            }
        return nullptr;
    }
    std::size_t count() const {
        return std::size_t(std::count_if(m_entries.begin(), m_entries.end(), [](const Entry& e) { return e.token != 0; }));
    }
    template <typename F>
    void take_all(F&& f) {
        for (Entry& e : m_entries)
            if (e.token != 0) {
                e.token = 0;
                f(e);
            }
    }

private:
    std::vector<Entry> m_entries;
};

// RFC 5382 REQ-4: the SYNs nobody answered from inside within the hold time. For each one this
// worker holds, expired(entry, reply) with the ICMP 3/3 for its sender (empty: not configured);
// a token it does not hold is a hairpinned SYN it handed off, counted by the other worker.
template <typename Stats, typename Expired>
void expire_held_syns(core::Translator& t, HeldSyns& held, Stats& stats, core::TimeMs now, Expired&& expired) {
    while (const std::uint32_t token = t.next_expired_hold(now)) {
        const HeldSyns::Entry* e = held.take(token);
        if (!e) {
            stats.handed_off(core::Counter::syn_hold_expired);
            continue;
        }
        std::array<std::uint8_t, core::icmp::kErrorBytes> reply{};
        const std::size_t n = t.unsolicited_syn_reply({e->bytes.data(), e->len}, reply);
        expired(*e, std::span<const std::uint8_t>(reply.data(), n));
    }
}

} // namespace conenat::engine
