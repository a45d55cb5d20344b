// What a software worker does when the hold time of a SYN it holds for the core is over
// (RFC 5382 REQ-4). The SYNs and their packets are the core's (core::SynHold, its bounds shared
// out between the workers by shard_plan.cpp); the worker keeps the packets it did not hand off.
#pragma once

#include "conenat/core/nat/translator.hpp"
#include "conenat/core/packet/icmp_build.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace conenat::engine {

// RFC 5382 REQ-4: the SYNs nobody answered from inside within the hold time. For each one this
// worker keeps, expired(held, reply) with the ICMP 3/3 for its sender (empty: not configured);
// a token it does not keep is a hairpinned SYN it handed off, counted by the other worker.
template <typename Stats, typename Expired>
void expire_held_syns(core::Translator& t, Stats& stats, core::TimeMs now, Expired&& expired) {
    while (const std::uint32_t token = t.next_expired_hold(now)) {
        const core::SynHold::Held* h = t.holds().take(token);
        if (!h) {
            stats.handed_off(core::Counter::syn_hold_expired);
            continue;
        }
        std::array<std::uint8_t, core::icmp::kErrorBytes> reply{};
        const std::size_t n = t.unsolicited_syn_reply(h->packet(), reply);
        expired(*h, std::span<const std::uint8_t>(reply.data(), n));
    }
}

} // namespace conenat::engine
