// Pieces every software-engine worker (queue, tun) is built from: the two-pass batch
// translation, the SYNs it holds, its published statistics, and the text of the engine's
// statistics. No allocation on the packet path, nothing shared between workers but the atomics
// the statistics are read from.
#pragma once

#include "conenat/core/nat/counters.hpp"
#include "conenat/core/nat/translator.hpp"
#include "conenat/core/packet/icmp_build.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace conenat::engine {

// A worker's housekeeping: statistics published this often, timers swept this often, and its
// poll timeout (also the lateness bound of an expired SYN hold).
constexpr core::TimeMs kPublishMs = 250, kExpireMs = 500;
constexpr int kPollMs = 100;

// A batch translated in two passes, outbound first: a mapping created by a packet of the batch
// is there for the replies in it. Slots are the caller's indices.
template <std::size_t Batch>
class TwoPassBatch {
public:
    void clear() { m_n[0] = m_n[1] = 0; }
    void add(std::size_t slot, const core::PacketRef& ref, core::Direction dir) {
        const int d = dir == core::Direction::Outbound ? 0 : 1;
        m_refs[d][m_n[d]] = ref;
        m_slot[d][m_n[d]++] = slot;
    }
    // Translates, then calls done(slot, ref) for each packet (its outcome and view after translation).
    template <typename Done>
    void run(core::Translator& t, core::TimeMs now, Done&& done) {
        t.process_batch(std::span(m_refs[0].data(), m_n[0]), core::Direction::Outbound, now);
        t.process_batch(std::span(m_refs[1].data(), m_n[1]), core::Direction::Inbound, now);
        for (int d = 0; d < 2; ++d)
            for (std::size_t j = 0; j < m_n[d]; ++j)
                done(m_slot[d][j], std::as_const(m_refs[d][j]));
    }

private:
    std::array<std::array<core::PacketRef, Batch>, 2> m_refs{};
    std::array<std::array<std::size_t, Batch>, 2> m_slot{};
    std::size_t m_n[2] = {0, 0};
};

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
// a token it does not hold is a hairpinned SYN it handed on, counted by the other worker.
template <typename Stats, typename Expired>
void expire_held_syns(core::Translator& t, HeldSyns& held, Stats& stats, core::TimeMs now, Expired&& expired) {
    while (const std::uint32_t token = t.next_expired_hold(now)) {
        const HeldSyns::Entry* e = held.take(token);
        if (!e) {
            stats.moved(core::Counter::syn_hold_expired);
            continue;
        }
        std::array<std::uint8_t, core::icmp::kErrorBytes> reply{};
        const std::size_t n = t.unsolicited_syn_reply({e->bytes.data(), e->len}, reply);
        expired(*e, std::span<const std::uint8_t>(reply.data(), n));
    }
}

// A worker's statistics as the engine reads them: the core's counters (corrected by what
// hand-offs between workers make them count in the wrong worker), then the worker's own.
template <std::size_t Own>
class PublishedStats {
public:
    static constexpr std::size_t kCore = std::size_t(core::Counter::count_);
    static constexpr std::size_t kSize = kCore + Own;

    // A hand-off moved `n` of `c` to another worker (negative: from another worker).
    void moved(core::Counter c, std::int64_t n = 1) { m_adjust[std::size_t(c)] += n; }
    void publish(const core::Counters& counters, const std::array<std::uint64_t, Own>& own) {
        for (std::size_t i = 0; i < kCore; ++i)
            m_values[i].store(std::uint64_t(std::int64_t(counters.get(core::Counter(i))) - m_adjust[i]),
                              std::memory_order_relaxed);
        for (std::size_t i = 0; i < Own; ++i)
            m_values[kCore + i].store(own[i], std::memory_order_relaxed);
    }
    std::array<std::uint64_t, kSize> read() const {
        std::array<std::uint64_t, kSize> out{};
        for (std::size_t i = 0; i < kSize; ++i)
            out[i] = m_values[i].load(std::memory_order_relaxed);
        return out;
    }

private:
    std::array<std::int64_t, kCore> m_adjust{};
    std::array<std::atomic<std::uint64_t>, kSize> m_values{};
};

// The engine's "name value" lines: the core's counters and the engine's own (`own_name(i)`),
// summed over its workers.
template <typename Workers, typename OwnName>
std::string worker_stats_text(const Workers& workers, std::size_t own_count, OwnName&& own_name) {
    constexpr std::size_t kCore = std::size_t(core::Counter::count_);
    std::vector<std::uint64_t> sum(kCore + own_count);
    for (const auto& w : workers) {
        const auto s = w->stats();
        for (std::size_t i = 0; i < sum.size() && i < s.size(); ++i)
            sum[i] += s[i];
    }
    std::ostringstream out;
    for (std::size_t i = 0; i < kCore; ++i)
        out << core::to_string(core::Counter(i)) << ' ' << sum[i] << '\n';
    for (std::size_t i = 0; i < own_count; ++i)
        out << own_name(i) << ' ' << sum[kCore + i] << '\n';
    out << "workers " << workers.size() << '\n';
    return out.str();
}

} // namespace conenat::engine
