// A tun engine worker's round: take what other workers handed off to it, read the device until the
// batch is full or it is empty, translate the batch (outbound, then inbound), write the results
// back. The kernel forwards what we write once more: each packet gets back the hop (TTL) the
// route into the device took, so the router counts as one hop (RFC 1812 §5.3.1), and the
// kernel's own checks on that first hop (TTL expiry, DF and the device MTU) are the router's.
#include "worker.hpp"

#include "conenat/core/packet/ipv4_header.hpp"
#include "conenat/core/packet/parse.hpp"
#include "conenat/core/packet/partial_checksum.hpp"
#include "conenat/util/log.hpp"
#include "conenat/engine/clock.hpp"
#include "engine/software/carry_out.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace conenat::engine {

using core::Counter;
using core::Direction;
using core::TimeMs;

namespace {
constexpr int kRoundsPerPoll = 16; // full batches in a row before the stop fd is looked at again

core::ReassemblyConfig reassembly_config() {
    core::ReassemblyConfig c;
    c.slots = 64;
    c.slots_per_source = 16;
    c.timeout_ms = 30'000;
    return c;
}
} // namespace

TunWorker::TunWorker(const TunWorkerSettings& settings, const ShardPlan& plan, std::uint64_t seed,
                     io::TunQueue queue, std::vector<HandoffRing*> inbox, std::vector<HandoffRing*> outbox,
                     std::span<const io::EventFd> wake_fds)
    : TranslatingWorker(plan.configs[settings.index], seed), m_settings(settings), m_steering(plan, settings.index, settings.internal),
      m_reassembler(reassembly_config()), m_queue(std::move(queue)), m_inbox(std::move(inbox)),
      m_outbox(std::move(outbox)), m_inbox_pos(m_inbox.size()), m_wake_fds(wake_fds),
      m_wake(settings.workers), m_bufs(kBatch * kBufBytes), m_replies(kBatch) {
}

void TunWorker::run(const io::EventFd& stop) { run_worker(*this, stop, now_ms); }

void TunWorker::watch(io::Poller& poller) {
    poller.watch(m_queue->fd());
    m_wake_index = poller.watch(m_wake_fds[m_settings.index]);
}

TimeMs TunWorker::work(const io::Poller& poller, TimeMs now) {
    if (poller.readable(m_wake_index))
        m_wake_fds[m_settings.index].clear();
    for (int r = 0; r < kRoundsPerPoll && round(now); ++r)
        now = now_ms();
    return now;
}

void TunWorker::expire(TimeMs now) {
    m_translator.expire(now);
    m_reassembler.expire(now);
}

bool TunWorker::round(TimeMs now) {
    m_n = 0;
    take_hand_offs(now);
    read_tun(now);
    const bool full = m_n == kBatch;
    if (m_n > 0)
        translate(now);
    for (std::size_t k = 0; k < m_inbox.size(); ++k)
        if (m_inbox[k])
            m_inbox[k]->release(m_inbox_pos[k]);
    for (std::size_t k = 0; k < m_wake.size(); ++k)
        if (m_wake[k]) {
            m_wake_fds[k].signal();
            m_wake[k] = false;
        }
    return full;
}

void TunWorker::take_hand_offs(TimeMs now) {
    for (std::size_t k = 0; k < m_inbox.size(); ++k) {
        HandoffRing* ring = m_inbox[k];
        if (!ring)
            continue;
        std::uint64_t pos = ring->begin();
        HandoffRing::Record rec;
        while (m_n < kBatch && ring->next(pos, rec)) {
            add(TunStat::handed_in);
            if (rec.tag & kTagFragment) {
                if (admit(rec.bytes, &m_bufs[m_n * kBufBytes], now))
                    ++m_n;
                continue;
            }
            Slot& s = m_slots[m_n++];
            s = Slot{};
            s.frame = rec.bytes;
            s.dir = (rec.tag & kTagInbound) ? Direction::Inbound : Direction::Outbound;
            s.handed_off = rec.tag & kTagHandedOff;
        }
        m_inbox_pos[k] = pos;
    }
}

void TunWorker::read_tun(TimeMs now) {
    while (m_n < kBatch) {
        std::uint8_t* buf = &m_bufs[m_n * kBufBytes];
        auto got = m_queue->read({buf, kBufBytes});
        if (!got) {
            add(TunStat::read_errors);
            return;
        }
        if (*got == 0)
            return;
        add(TunStat::tun_read);
        if (admit({buf, *got}, buf, now))
            ++m_n;
    }
}

bool TunWorker::admit(std::span<std::uint8_t> frame, std::uint8_t* buf, TimeMs now) {
    if (frame.size() < kVnet + 20) {
        add(TunStat::read_errors);
        return false;
    }
    const io::VnetHeader vh = io::VnetHeader::load(frame.data());
    if (vh.gso_type != io::VnetHeader::kGsoNone)
        add(TunStat::gso_packets);
    std::span<std::uint8_t> pkt = frame.subspan(kVnet);
    if (core::is_fragment(pkt)) {
        const unsigned owner = fragment_owner(pkt, m_settings.workers);
        if (owner != m_settings.index)
            return hand_off(owner, frame, kTagFragment), false;
        const auto r = m_reassembler.feed(pkt, now);
        if (r.status != core::Reassembler::Status::Complete)
            return false;
        std::memset(buf, 0, kVnet);
        std::memcpy(buf + kVnet, r.datagram.data(), r.datagram.size());
        frame = {buf, kVnet + r.datagram.size()};
        pkt = frame.subspan(kVnet);
    }
    const core::PacketView v = core::parse_ipv4(pkt);
    const Arrival a = m_steering.arrival(v);
    if (a.router) {
        write(frame);
        add(TunStat::passed_to_host);
        return false;
    }
    if (a.owner != m_settings.index)
        return hand_off(a.owner, frame, a.dir == Direction::Inbound ? kTagInbound : kTagOutbound), false;
    Slot& s = m_slots[m_n];
    s = Slot{};
    s.frame = frame;
    s.dir = a.dir;
    s.ref.view = v; // the translator need not parse it again
    s.ref.parsed = true;
    return true;
}

bool TunWorker::hand_off(unsigned worker, std::span<const std::uint8_t> frame, std::uint32_t tag) {
    if (worker >= m_outbox.size() || !m_outbox[worker] || !m_outbox[worker]->push(frame, {}, tag)) {
        add(TunStat::handoff_full);
        return false;
    }
    m_wake[worker] = true;
    add(TunStat::handed_out);
    return true;
}

void TunWorker::translate(TimeMs now) {
    m_batch.clear();
    for (std::size_t i = 0; i < m_n; ++i) {
        Slot& s = m_slots[i];
        s.ref.bytes = s.frame.subspan(kVnet);
        s.ref.reply = m_replies[i];
        m_batch.add(i, s.ref, s.dir);
    }
    m_batch.run(m_translator, now, [this](std::size_t i, const core::PacketRef& r) { m_slots[i].ref = r; });
    for (std::size_t i = 0; i < m_n; ++i)
        dispose(m_slots[i]);
}

void TunWorker::dispose(Slot& s) {
    const Context c{s.dir, s.handed_off, m_settings.workers > 1, true};
    carry_out(*this, s, s.ref, c, m_steering, m_stats);
}

bool TunWorker::hand_off(unsigned worker, Slot& s) { return hand_off(worker, s.frame, kTagInbound | kTagHandedOff); }

void TunWorker::reply(std::span<const std::uint8_t> icmp) {
    write_packet(icmp);
    add(TunStat::icmp_replies_sent);
}

void TunWorker::deliver(Slot& s) {
    const std::span<std::uint8_t> pkt = s.ref.bytes;
    if (io::VnetHeader::load(s.frame.data()).flags & io::VnetHeader::kNeedsCsum) {
        // Still partial on the way back: the field must hold the new pseudo-header sum.
        if (core::fix_partial_checksum(pkt, true))
            add(TunStat::partial_checksums);
    }
    // One hop back: the kernel took one on the way into the device and takes it again on the way out.
    core::give_back_hop(pkt);
    write(s.frame);
}

void TunWorker::to_router(Slot& s) {
    write(s.frame); // to our address: the kernel delivers it to the router's own stack
    add(TunStat::passed_to_host);
}

void TunWorker::write(std::span<const std::uint8_t> frame) {
    if (Status st = m_queue->write(frame); !st)
        add(TunStat::write_failed);
    else
        add(TunStat::tun_written);
}

void TunWorker::write_packet(std::span<const std::uint8_t> pkt) {
    const std::size_t n = std::min(pkt.size(), kReplyBytes);
    std::memset(m_scratch.data(), 0, kVnet);
    std::memcpy(m_scratch.data() + kVnet, pkt.data(), n);
    write({m_scratch.data(), kVnet + n});
}

// RFC 5382 REQ-4: a SYN nobody answered from inside within its hold time is dropped, and its
// sender gets ICMP port unreachable when configured.
void TunWorker::expire_holds(TimeMs now) {
    expire_held_syns(m_translator, m_stats, now, [this](const core::SynHold::Held&, std::span<const std::uint8_t> reply) {
        if (reply.empty())
            return;
        write_packet(reply);
        add(TunStat::icmp_replies_sent);
    });
}

void TunWorker::publish() {
    m_mapping_log.flush();
    const core::ReassemblyCounters& r = m_reassembler.counters();
    m_own[std::size_t(TunStat::fragments_in)] = r.fragments_in;
    m_own[std::size_t(TunStat::datagrams_reassembled)] = r.datagrams_done;
    m_own[std::size_t(TunStat::fragments_dropped)] = r.dropped_malformed + r.dropped_overlap + r.dropped_too_big +
                                                     r.dropped_source_share + r.evicted + r.timed_out;
    note_table_state<TunStat>(m_own, m_translator, m_check, "tun worker");
    m_stats.publish(m_translator.counters(), m_own);
}

void TunWorker::close() {
    publish();
    m_queue.reset();
}

std::array<std::uint64_t, TunWorker::kStats> TunWorker::stats() const { return m_stats.read(); }

} // namespace conenat::engine
