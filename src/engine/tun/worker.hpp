// One worker of the tun engine: its TUN queue, its Translator, its reassembler, its rings to
// and from the other workers, and the SYNs it holds. Runs on its own thread; shares nothing on
// the packet path but the lock-free rings and the read-only shard plan.
#pragma once

#include "engine/software/handoff_ring.hpp"
#include "engine/software/disposition.hpp"
#include "engine/software/steering.hpp"
#include "engine.hpp"
#include "engine/software/held_syns.hpp"
#include "engine/software/translating_worker.hpp"
#include "engine/software/two_pass_batch.hpp"
#include "engine/software/worker_loop.hpp"
#include "engine/software/worker_stats.hpp"

#include "conenat/core/nat/translator.hpp"
#include "conenat/core/packet/icmp_build.hpp"
#include "conenat/core/packet/reassembly.hpp"
#include "conenat/io/tun.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace conenat::engine {

struct TunWorkerSettings {
    unsigned index = 0, workers = 1;
    std::vector<core::Prefix> internal;
};

class TunWorker final : public TranslatingWorker {
public:
    using Stat = TunStat;
    using Stats = PublishedStats<std::size_t(TunStat::count_)>;
    static constexpr std::size_t kStats = Stats::kSize;

    // rings[from * workers + to]; wake_fds[k]: worker k's eventfd (a hand-off arrived).
    TunWorker(const TunWorkerSettings& settings, const ShardPlan& plan, std::uint64_t seed, io::TunQueue queue,
              std::vector<HandoffRing*> inbox, std::vector<HandoffRing*> outbox, std::span<const io::EventFd> wake_fds);
    // The thread body (run_worker): until `stop` is signalled.
    void run(const io::EventFd& stop);
    // With the thread paused: the engine's plan has changed, this worker's share of it is `config`.
    void reconfigure(const core::NatConfig& config, const std::vector<core::Prefix>& internal, core::TimeMs now) {
        m_translator.reconfigure(config, now);
        m_steering.set_internal(internal);
        m_settings.internal = internal;
    }
    // Closes its queue (after run() has ended), keeping the last statistics.
    void close();
    std::array<std::uint64_t, kStats> stats() const;

private:
    static constexpr std::size_t kBatch = 64;
    static constexpr std::size_t kVnet = io::VnetHeader::kSize;
    static constexpr std::size_t kBufBytes = kVnet + 65536;
    static constexpr std::size_t kReplyBytes = core::icmp::kErrorBytes;

    // What a hand-off record is: its direction, the second half of a hairpin, a fragment.
    enum Tag : std::uint32_t { kTagOutbound = 0, kTagInbound = 1, kTagHandedOff = 2, kTagFragment = 4 };

    struct Slot {
        std::span<std::uint8_t> frame; // virtio header + packet
        core::Direction dir = core::Direction::Outbound;
        bool handed_off = false; // the second half of a hairpin another worker began
        core::PacketRef ref;
    };

    template <typename W, typename C>
    friend void run_worker(W&, const io::EventFd&, C&&);
    void watch(io::Poller& poller);
    core::TimeMs work(const io::Poller& poller, core::TimeMs now); // rounds until the device is drained
    void poll_failed() { add(TunStat::read_errors); }
    void expire(core::TimeMs now);
    void end_round() {
        if (m_mapping_log.due()) m_mapping_log.flush();
    }

    bool round(core::TimeMs now); // true: a full batch (more may be waiting)
    void take_hand_offs(core::TimeMs now);
    void read_tun(core::TimeMs now);
    // A frame read from the device: kept (true) in slot m_n, or handed off / passed / dropped.
    // `buf` is the slot's own buffer (== frame.data() for a frame read from the device).
    bool admit(std::span<std::uint8_t> frame, std::uint8_t* buf, core::TimeMs now);
    // Into `worker`'s ring (false: it is full).
    bool hand_off(unsigned worker, std::span<const std::uint8_t> frame, std::uint32_t tag);
    void translate(core::TimeMs now);
    void dispose(Slot& s);

    // The TUN port (carry_out.hpp): a packet is a slot's frame.
    template <typename Port, typename Packet, std::size_t Own>
    friend void carry_out(Port&, Packet&, const core::PacketRef&, Context, const Steering&, PublishedStats<Own>&);
    bool hand_off(unsigned worker, Slot& s);
    void release(std::uint32_t token) { m_translator.holds().take(token); }
    void reply(std::span<const std::uint8_t> icmp);
    void deliver(Slot& s);
    void to_router(Slot& s);
    void hold(Slot&, std::uint32_t token) { m_translator.holds().keep(token); }
    void drop(Slot&) {} // a packet read from the device is gone unless written back
    void write(std::span<const std::uint8_t> frame);
    void write_packet(std::span<const std::uint8_t> pkt); // with an empty virtio header
    void expire_holds(core::TimeMs now);
    void publish();
    void add(TunStat s, std::uint64_t n = 1) { m_own[std::size_t(s)] += n; }

    TunWorkerSettings m_settings;
    Steering m_steering;
    core::Reassembler m_reassembler;
    std::optional<io::TunQueue> m_queue;
    std::vector<HandoffRing*> m_inbox, m_outbox;
    std::vector<std::uint64_t> m_inbox_pos;
    std::span<const io::EventFd> m_wake_fds; // the engine's, outliving this worker
    std::vector<bool> m_wake;
    std::size_t m_wake_index = 0; // in the poller

    std::vector<std::uint8_t> m_bufs; // kBatch frames of kBufBytes
    std::array<Slot, kBatch> m_slots{};
    std::size_t m_n = 0;
    TwoPassBatch<kBatch> m_batch;
    std::vector<std::array<std::uint8_t, kReplyBytes>> m_replies;
    std::array<std::uint8_t, kVnet + kReplyBytes> m_scratch{};

    std::array<std::uint64_t, std::size_t(TunStat::count_)> m_own{};
    Stats m_stats; // the core's counters corrected for hand-offs (see dispose), and m_own
};

} // namespace conenat::engine
