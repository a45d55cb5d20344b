// One worker of the queue engine: its Translator, its main and hairpin queues, its raw socket,
// and the SYNs it holds. Runs on its own thread; nothing in it is shared but the read-only
// shard plan and the statistics it publishes (atomics, about four times a second).
#pragma once

#include "engine.hpp"
#include "conenat/io/raw_socket.hpp"
#include "engine/software/disposition.hpp"
#include "engine/software/steering.hpp"
#include "engine/software/held_syns.hpp"
#include "engine/software/translating_worker.hpp"
#include "engine/software/two_pass_batch.hpp"
#include "engine/software/worker_loop.hpp"
#include "engine/software/worker_stats.hpp"

#include "conenat/core/nat/counters.hpp"
#include "conenat/core/packet/icmp_build.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

namespace conenat::engine {

struct WorkerSettings {
    unsigned index = 0;
    std::uint16_t main_queue = 0, hairpin_queue = 1;
    std::uint32_t queue_maxlen = 4096;
    std::uint32_t mark = 0x00100000; // hand-off mark; also SO_MARK of the raw socket's packets
    bool fail_open = false;
};

class QueueWorker final : public TranslatingWorker {
public:
    using Stat = QueueStat;
    using Stats = PublishedStats<std::size_t(QueueStat::count_)>;
    static constexpr std::size_t kStats = Stats::kSize;

    QueueWorker(const WorkerSettings& settings, const ShardPlan& plan, std::uint64_t seed);
    // Binds the two queues and opens the raw socket.
    Status open();
    // The thread body (run_worker): until `stop` is signalled.
    void run(const io::EventFd& stop);
    // With the thread paused: the engine's plan has changed, this worker's share of it is `config`.
    // (Its internal prefixes are the kernel rules' business: the hooks give directions.)
    void reconfigure(const core::NatConfig& config, const std::vector<core::Prefix>&, core::TimeMs now) {
        m_translator.reconfigure(config, now);
    }
    // Drops every held packet (at stop; the thread has ended) and unbinds the queues.
    void close();
    // The last published statistics: core counters, then QueueStat.
    std::array<std::uint64_t, kStats> stats() const;

private:
    enum Kind : std::uint8_t { kMain, kHairpin };
    static constexpr std::size_t kBatch = 64;
    static constexpr std::size_t kReplyBytes = core::icmp::kErrorBytes;

    struct Slot {
        core::PacketRef ref;
        core::Direction dir = core::Direction::Outbound;
        bool handed_off = false; // the second half of a hairpin (marked by the first worker)
        bool skip = false;      // verdict already given
    };

    template <typename W, typename C>
    friend void run_worker(W&, const io::EventFd&, C&&);
    void watch(io::Poller& poller);
    core::TimeMs work(const io::Poller& poller, core::TimeMs now);
    void poll_failed() { add(QueueStat::queue_errors); }
    void expire(core::TimeMs now) { m_translator.expire(now); }
    void end_round();

    void drain(Kind kind, core::TimeMs now);
    void dispose(Kind kind, const io::QueuedPacket& p, Slot& s);

    // The NFQUEUE port (carry_out.hpp): a packet is a verdict owed to one of the two queues.
    struct Queued {
        Kind kind;
        const io::QueuedPacket& p;
    };
    template <typename Port, typename Packet, std::size_t Own>
    friend void carry_out(Port&, Packet&, const core::PacketRef&, Context, const Steering&, PublishedStats<Own>&);
    bool hand_off(unsigned worker, Queued& q);
    void reply(std::span<const std::uint8_t> icmp);
    void deliver(Queued& q);
    void to_router(Queued& q);
    void hold(Queued& q, std::uint32_t token);
    void drop(Queued& q);
    void release(std::uint32_t token);
    void expire_holds(core::TimeMs now); // RFC 5382 REQ-4
    void reinject(std::span<std::uint8_t> pkt);
    void send_raw();
    void publish();
    void add(QueueStat s, std::uint64_t n = 1) { m_own[std::size_t(s)] += n; }
    io::NfQueue& queue(Kind kind) { return kind == kMain ? *m_main : *m_hairpin; }

    WorkerSettings m_settings;
    Steering m_steering; // its internal net unused: the kernel's hooks give directions
    std::optional<io::NfQueue> m_main, m_hairpin;
    std::optional<io::RawIpSocket> m_raw;
    std::size_t m_ready[2] = {0, 0}; // the queues' indices in the poller
    bool m_flush_logged = false;

    std::array<io::QueuedPacket, kBatch> m_packets{};
    std::array<Slot, kBatch> m_slots{};
    TwoPassBatch<kBatch> m_batch;
    std::vector<std::array<std::uint8_t, kReplyBytes>> m_replies;      // 2 * kBatch: per slot, per queue
    std::vector<std::array<std::uint8_t, kReplyBytes>> m_hold_replies; // ICMP 3/3 for expired holds
    std::size_t m_hold_replies_used = 0;
    std::vector<std::span<const std::uint8_t>> m_raw_out;             // sent once per round

    std::array<std::uint64_t, std::size_t(QueueStat::count_)> m_own{};
    Stats m_stats; // the core's counters corrected for hand-offs (see dispose), and m_own
};

} // namespace conenat::engine
