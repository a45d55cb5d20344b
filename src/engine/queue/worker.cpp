// A queue engine worker's round: drain each readable queue (recvmmsg), translate the batch
// (outbound, then inbound), queue the verdicts, then one sendmsg of verdicts per queue and one
// sendmmsg of the packets it sends itself. No allocation, no lock.
#include "worker.hpp"

#include "conenat/core/packet/ipv4_header.hpp"
#include "conenat/core/packet/partial_checksum.hpp"
#include "conenat/util/log.hpp"
#include "conenat/engine/clock.hpp"
#include "engine/software/carry_out.hpp"


#include <algorithm>

namespace conenat::engine {

using core::Counter;
using core::Direction;
using core::TimeMs;

namespace {
constexpr std::size_t kHoldReplies = 16;

} // namespace

QueueWorker::QueueWorker(const WorkerSettings& settings, const ShardPlan& plan, std::uint64_t seed)
    : TranslatingWorker(plan.configs[settings.index], seed), m_settings(settings), m_steering(plan, settings.index, {}),
      m_replies(2 * kBatch), m_hold_replies(kHoldReplies) {
    m_raw_out.reserve(2 * kBatch + kHoldReplies);
}

Status QueueWorker::open() {
    io::QueueOptions o;
    o.maxlen = m_settings.queue_maxlen;
    o.copy_range = 0xffff; // whole packets: the verdict returns them rewritten
    o.fail_open = m_settings.fail_open;
    o.gso = true;
    auto main = io::NfQueue::open(m_settings.main_queue, o);
    if (!main)
        return Error{"NFQUEUE " + std::to_string(m_settings.main_queue) + ": " + main.error()};
    m_main.emplace(std::move(main.value()));
    // Hairpinned packets are re-injected through a raw socket, which takes nothing larger than
    // the MTU: the kernel segments GSO packets (and completes their checksums) before queueing.
    o.gso = false;
    auto hairpin = io::NfQueue::open(m_settings.hairpin_queue, o);
    if (!hairpin)
        return Error{"NFQUEUE " + std::to_string(m_settings.hairpin_queue) + ": " + hairpin.error()};
    m_hairpin.emplace(std::move(hairpin.value()));
    auto raw = io::RawIpSocket::open(m_settings.mark);
    if (!raw)
        return Error{raw.error()};
    m_raw.emplace(std::move(raw.value()));
    return {};
}

void QueueWorker::run(const io::EventFd& stop) { run_worker(*this, stop, now_ms); }

void QueueWorker::watch(io::Poller& poller) {
    m_ready[kMain] = poller.watch(m_main->fd());
    m_ready[kHairpin] = poller.watch(m_hairpin->fd());
}

TimeMs QueueWorker::work(const io::Poller& poller, TimeMs now) {
    for (Kind k : {kMain, kHairpin})
        if (poller.readable(m_ready[k]))
            drain(k, now);
    return now;
}

void QueueWorker::end_round() {
    send_raw();
    if (m_mapping_log.due()) m_mapping_log.flush();
    for (Kind k : {kMain, kHairpin}) {
        if (Status st = queue(k).flush(); !st) {
            add(QueueStat::queue_errors);
            if (!m_flush_logged)
                LOG_ERROR("queue worker %u: %s", m_settings.index, st.error().c_str());
            m_flush_logged = true;
        }
    }
}

void QueueWorker::drain(Kind kind, TimeMs now) {
    io::NfQueue& q = queue(kind);
    auto got = q.receive(m_packets);
    if (!got) {
        add(QueueStat::queue_errors);
        return;
    }
    const std::size_t n = *got;
    add(kind == kMain ? QueueStat::queued_main : QueueStat::queued_hairpin, n);
    m_batch.clear();
    for (std::size_t i = 0; i < n; ++i) {
        const io::QueuedPacket& p = m_packets[i];
        Slot& s = m_slots[i];
        s = Slot{};
        // Cut at the copy range (only a packet over 65531 bytes): it cannot come back whole.
        if (p.bytes.empty() || p.bytes.size() < p.length) {
            q.verdict(p.id, io::Verdict::Drop);
            add(QueueStat::truncated);
            s.skip = true;
            continue;
        }
        if (p.gso)
            add(QueueStat::gso_packets);
        s.handed_off = kind == kHairpin && (p.mark & m_settings.mark);
        if (kind == kMain)
            s.dir = p.hook == io::Hook::PreRouting ? Direction::Inbound : Direction::Outbound;
        else
            s.dir = s.handed_off ? Direction::Inbound : Direction::Outbound;
        s.ref = core::PacketRef{p.bytes, m_replies[kind * kBatch + i], {}};
        m_batch.add(i, s.ref, s.dir);
    }
    m_batch.run(m_translator, now, [this](std::size_t i, const core::PacketRef& r) { m_slots[i].ref = r; });
    for (std::size_t i = 0; i < n; ++i)
        if (!m_slots[i].skip)
            dispose(kind, m_packets[i], m_slots[i]);
}

void QueueWorker::dispose(Kind kind, const io::QueuedPacket& p, Slot& s) {
    // Hairpinned packets come through their own queue: only they are handed off, and only the
    // main queue's inbound packets may be the router's own.
    const Context c{s.dir, s.handed_off, kind == kHairpin, kind == kMain};
    Queued q{kind, p};
    carry_out(*this, q, s.ref, c, m_steering, m_stats);
}

// NF_REPEAT with the mark sends it through prerouting again, to the owner's hairpin queue.
bool QueueWorker::hand_off(unsigned, Queued& q) {
    queue(q.kind).verdict_with_payload(q.p.id, io::Verdict::Repeat, q.p.bytes, q.p.mark | m_settings.mark);
    add(QueueStat::hairpin_handoffs);
    return true;
}

void QueueWorker::reply(std::span<const std::uint8_t> icmp) {
    m_raw_out.push_back(icmp);
    add(QueueStat::icmp_replies_sent);
}

void QueueWorker::deliver(Queued& q) {
    if (q.kind == kHairpin) {
        // A local source address arriving from the LAN would be a martian: send it ourselves.
        reinject(q.p.bytes);
        queue(q.kind).verdict(q.p.id, io::Verdict::Drop);
        return;
    }
    if (q.p.checksum_partial && core::fix_partial_checksum(q.p.bytes, q.p.gso))
        add(QueueStat::partial_checksums);
    queue(q.kind).verdict_with_payload(q.p.id, io::Verdict::Accept, q.p.bytes);
    add(QueueStat::verdict_accept);
}

void QueueWorker::to_router(Queued& q) {
    queue(q.kind).verdict(q.p.id, io::Verdict::Accept);
    add(QueueStat::router_icmp_passed);
}

void QueueWorker::hold(Queued& q, std::uint32_t token) {
    if (!m_translator.holds().keep(token, q.p.id, q.kind))
        drop(q);
}

void QueueWorker::drop(Queued& q) {
    queue(q.kind).verdict(q.p.id, io::Verdict::Drop);
    add(QueueStat::verdict_drop);
}

void QueueWorker::release(std::uint32_t token) {
    if (const core::SynHold::Held* e = m_translator.holds().take(token)) {
        queue(Kind(e->tag)).verdict(e->handle, io::Verdict::Drop);
        add(QueueStat::verdict_drop);
    }
}

// RFC 5382 REQ-4: a SYN nobody answered from inside within its hold time is dropped, and its
// sender gets ICMP port unreachable when configured.
void QueueWorker::expire_holds(TimeMs now) {
    expire_held_syns(m_translator, m_stats, now,
                     [this](const core::SynHold::Held& e, std::span<const std::uint8_t> reply) {
                         queue(Kind(e.tag)).verdict(e.handle, io::Verdict::Drop);
                         add(QueueStat::verdict_drop);
                         if (reply.empty())
                             return;
                         if (m_hold_replies_used == m_hold_replies.size())
                             send_raw();
                         auto& buf = m_hold_replies[m_hold_replies_used++];
                         std::copy(reply.begin(), reply.end(), buf.begin());
                         m_raw_out.push_back(std::span(buf).first(reply.size()));
                         add(QueueStat::icmp_replies_sent);
                     });
}

void QueueWorker::reinject(std::span<std::uint8_t> pkt) {
    // As a router would: one hop less (RFC 1812 §5.3.1).
    if (!core::take_hop(pkt)) {
        add(QueueStat::ttl_expired);
        return;
    }
    m_raw_out.push_back(pkt);
    add(QueueStat::hairpin_reinjected);
}

void QueueWorker::send_raw() {
    if (m_raw_out.empty())
        return;
    const std::size_t sent = m_raw->send(m_raw_out);
    add(QueueStat::raw_send_failed, m_raw_out.size() - sent);
    m_raw_out.clear();
    m_hold_replies_used = 0;
}

void QueueWorker::publish() {
    m_mapping_log.flush();
    note_table_state<QueueStat>(m_own, m_translator, m_check, "queue worker");
    m_stats.publish(m_translator.counters(), m_own);
}

std::array<std::uint64_t, QueueWorker::kStats> QueueWorker::stats() const { return m_stats.read(); }

void QueueWorker::close() {
    m_translator.holds().take_all([this](const core::SynHold::Held& e) { queue(Kind(e.tag)).verdict(e.handle, io::Verdict::Drop); });
    for (Kind k : {kMain, kHairpin})
        if (auto& q = k == kMain ? m_main : m_hairpin; q)
            (void)q->flush();
    m_main.reset();
    m_hairpin.reset();
    m_raw.reset();
    publish();
}

} // namespace conenat::engine
