// The queue thread: first packets the kernel maps could not translate. Outbound: create the
// mapping, program the maps, NF_REPEAT (the nat hook runs again and now translates). Inbound:
// apply the filter; a permitted packet gets the permit mark and NF_REPEAT.
#include "engine.hpp"

#include "conenat/util/log.hpp"
#include "conenat/engine/clock.hpp"
#include "conenat/core/nat/first_packet.hpp"
#include "conenat/core/nat/flow_key.hpp"
#include "conenat/core/packet/icmp_build.hpp"
#include "conenat/io/poll.hpp"
#include "engine/conntrack/rules.hpp"

#include <chrono>


namespace conenat::engine {

using namespace conenat::core;

namespace {

constexpr std::size_t kBatch = 64;

} // namespace

// RFC 6888 REQ-11 / RFC 5508 REQ-8: tell the sender, when configured.
void ConntrackEngine::refuse(std::span<const std::uint8_t> pkt, const PacketView& v) {
    if (m_reply_count == m_replies.size()) return; // this round's buffers are all taken
    Reply& r = m_replies[m_reply_count];
    r.size = refusal_reply(m_table, pkt, v, r.bytes);
    if (r.size) ++m_reply_count;
}

// Outbound first packet of an internal endpoint the snat map does not know (m_mutex held):
// the core makes its mapping; the snat map will translate it when it goes round again.
io::Verdict ConntrackEngine::decide_out(const io::QueuedPacket& p, TimeMs now, Begun& begun) {
    begun = {};
    if (holding_off(now)) { // takeover.cpp: an HA pair's standby, or its takeover's grace
        ++m_takeover_drops;
        return io::Verdict::Drop;
    }
    const PacketView v = parse_ipv4(p.bytes);
    const FirstPacket d = first_outbound(m_table, v, now);
    if (d.action != FirstAction::Pass) {
        m_table.counters().add(d.reason);
        if (d.action == FirstAction::Refuse) refuse(p.bytes, v);
        return io::Verdict::Drop;
    }
    m_table.counters().add(Counter::translated_out);
    if (d.mapping != kNil) {
        reinstate(d.mapping);
        program_flow(d.mapping, v.dst);
        begun = {d.mapping, remote_of(m_table.mapping(d.mapping).proto, v.dst)};
    }
    return io::Verdict::Repeat;
}

void ConntrackEngine::reinstate(MappingId id) {
    if (m_programmed.withdrawn() == 0) return;
    const Mapping& m = m_table.mapping(id);
    for (const io::MappingElement& e : m_programmed.reinstate(m.proto, m.internal(), m.external())) m_to_add.push_back(e);
}

// What a NEW event of the flow would do (events.cpp, apply), once its packet goes round: the
// mapping is live at `now` (the packet's lookup made it so), so `b.mapping` is still its id.
// A flow the kernel then drops before confirming it leaves a session held until the next
// resync ends it (resync-interval), as a lost DESTROY event would.
void ConntrackEngine::flow_begun(const Begun& b, TimeMs now) {
    if (b.mapping == kNil) return;
    const Proto proto = m_table.mapping(b.mapping).proto;
    const Endpoint external = m_table.mapping(b.mapping).external();
    (void)m_table.flow_begin(b.mapping, b.remote, now, Direction::Outbound);
    ++m_flows_begun;
    // RFC 5382 REQ-4: an outbound SYN of a connection whose inbound SYN is held: drop that one.
    if (proto == Proto::Tcp)
        if (const std::uint32_t token = m_syn_hold.release(external, b.remote)) m_released.push_back(token);
}

// Inbound first packet the dnat chain did not take (m_mutex held). nullopt: held.
std::optional<io::Verdict> ConntrackEngine::decide_in(const io::QueuedPacket& p, TimeMs now) {
    const PacketView v = parse_ipv4(p.bytes);
    const bool hairpin = internal(v.src.addr); // from inside to one of our addresses
    const FirstPacket d = first_inbound(m_table, m_syn_hold, p.bytes, v, hairpin, now);
    m_table.counters().add(d.reason);
    if (d.action == FirstAction::Pass) {
        if (d.mapping != kNil) reinstate(d.mapping);
        return io::Verdict::Repeat;
    }
    if (d.action == FirstAction::Hold) { // RFC 5382 REQ-4: its packet waits in the queue
        (void)m_syn_hold.keep(d.token, p.id);
        ++m_held;
        return std::nullopt;
    }
    return io::Verdict::Drop;
}

void ConntrackEngine::drop_held(std::uint32_t token) {
    const SynHold::Held* h = m_syn_hold.take(token);
    if (!h) return;
    m_queue_in->verdict(h->handle, io::Verdict::Drop);
    ++m_dropped;
}

// Held SYNs whose connection was opened from inside are dropped silently; the others, once their
// 6 s are over, are dropped and answered with ICMP 3/3 when configured (m_mutex held).
void ConntrackEngine::expire_holds(TimeMs now) {
    for (const std::uint32_t token : m_released) {
        drop_held(token);
        m_table.counters().add(Counter::syn_released);
    }
    m_released.clear();
    while (const std::uint32_t token = m_syn_hold.pop_expired(now)) {
        const SynHold::Held* h = m_syn_hold.take(token);
        if (!h) continue;
        m_table.counters().add(Counter::syn_hold_expired);
        if (m_reply_count < m_replies.size()) {
            Reply& r = m_replies[m_reply_count];
            r.size = unsolicited_syn_reply(m_config.nat, h->packet(), r.bytes);
            if (r.size) ++m_reply_count;
        }
        m_queue_in->verdict(h->handle, io::Verdict::Drop);
        ++m_dropped;
    }
}

void ConntrackEngine::queue_loop() {
    io::QueuedPacket out[kBatch], in[kBatch];
    io::Poller poller;
    const std::size_t q_out = poller.watch(m_queue_out->fd()), q_in = poller.watch(m_queue_in->fd());
    const std::size_t stop = poller.watch(*m_stop);
    for (;;) {
        (void)poller.wait(100);
        if (poller.readable(stop)) return;
        // Only the sockets poll() saw ready: an idle queue costs no syscall.
        std::size_t no = 0, ni = 0;
        if (poller.readable(q_out))
            if (const auto n = m_queue_out->receive(out)) no = n.value();
        if (poller.readable(q_in))
            if (const auto n = m_queue_in->receive(in)) ni = n.value();
        m_queued_out += no;
        m_queued_in += ni;
        const TimeMs now = now_ms();
        m_queue_beat.beat(now);
        const auto t0 = std::chrono::steady_clock::now();
        std::chrono::steady_clock::time_point t1{}, t2{};
        {
            std::lock_guard lock(m_mutex);
            io::Verdict vo[kBatch], vi[kBatch];
            Begun begun[kBatch];
            bool decided_in[kBatch] = {};
            for (std::size_t i = 0; i < no; ++i) vo[i] = decide_out(out[i], now, begun[i]);
            for (std::size_t i = 0; i < ni; ++i)
                if (const auto v = decide_in(in[i], now)) vi[i] = *v, decided_in[i] = true;
            // The maps must hold the new elements before the packets go round again.
            t1 = std::chrono::steady_clock::now();
            const bool programmed = flush_elements().ok();
            t2 = std::chrono::steady_clock::now();
            if (programmed && !queued_flows_keep_new(m_config)) // else their NEW events do (rules.hpp)
                for (std::size_t i = 0; i < no; ++i) flow_begun(begun[i], now);
            // A repeated packet carries the mark: the queue chains skip it, so it can never loop.
            // Every outbound packet received gets its verdict now, in id order (none is held):
            // a run of equal verdicts and marks is one batch verdict, which the kernel takes as
            // one message instead of one per packet.
            const auto verdict_out = [&](std::size_t i) { return programmed ? vo[i] : io::Verdict::Drop; };
            const auto mark_out = [&](std::size_t i) { return out[i].mark | m_config.mark; };
            for (std::size_t i = 0, j = 0; i < no; i = j) {
                const io::Verdict v = verdict_out(i);
                const bool repeat = v == io::Verdict::Repeat;
                for (j = i + 1; j < no && verdict_out(j) == v && (!repeat || mark_out(j) == mark_out(i)); ++j) {}
                const std::optional<std::uint32_t> mark = repeat ? std::optional(mark_out(i)) : std::nullopt;
                if (j - i == 1) m_queue_out->verdict(out[i].id, v, mark);
                else m_queue_out->verdict_batch(out[j - 1].id, v, mark);
                (repeat ? m_repeat : m_dropped) += j - i;
            }
            for (std::size_t i = 0; i < ni; ++i) {
                if (!decided_in[i]) continue;
                const io::Verdict v = programmed ? vi[i] : io::Verdict::Drop;
                m_queue_in->verdict(in[i].id, v, v == io::Verdict::Repeat ? std::optional(in[i].mark | m_config.mark) : std::nullopt);
                ++(v == io::Verdict::Repeat ? m_repeat : m_dropped);
            }
            expire_holds(now);
        }
        if (Status s = m_queue_out->flush(); !s) LOG_ERROR("NFQUEUE verdicts: %s", s.error().c_str());
        if (Status s = m_queue_in->flush(); !s) LOG_ERROR("NFQUEUE verdicts: %s", s.error().c_str());
        if (no + ni) {
            const auto us = [](auto d) { return std::uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(d).count()); };
            m_decide_us.add(us(std::chrono::steady_clock::now() - t0));
            m_program_us.add(us(t2 - t1));
        }
        // Only this thread writes m_replies: no lock needed to send them.
        for (std::size_t i = 0; i < m_reply_count; ++i)
            if (m_raw->send({m_replies[i].bytes.data(), m_replies[i].size})) ++m_replies_sent;
        m_reply_count = 0;
    }
}

} // namespace conenat::engine
