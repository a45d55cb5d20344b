#include "conenat/core/nat/translator.hpp"

#include "conenat/core/packet/icmp_build.hpp"

#include "conenat/core/nat/first_packet.hpp"
#include "conenat/core/nat/flow_key.hpp"

#include <algorithm>

namespace conenat::core {

namespace {

// Records removed per packet: keeps stale state from piling up between the engine's sweeps
// without ever making one packet pay for a mass expiry.
constexpr std::uint32_t kExpireBudget = 8;

Counter unusable(const PacketView& v) {
    switch (v.kind) {
    case PacketKind::Malformed:
        return v.defect == Defect::BadIpChecksum || v.defect == Defect::BadIcmpChecksum ||
                       v.defect == Defect::BadInnerChecksum
                   ? Counter::drop_bad_checksum
                   : Counter::drop_malformed;
    case PacketKind::Other: return Counter::drop_unsupported;
    case PacketKind::Fragment: return Counter::drop_fragment;
    default: return Counter::translated_out; // usable
    }
}

} // namespace

Translator::Translator(const NatConfig& config, std::uint64_t seed)
    : m_table(config, seed), m_holds(config.max_held_syns, config.max_held_syns_per_source) {}

Outcome Translator::process(std::span<std::uint8_t> pkt, Direction dir, TimeMs now, std::span<std::uint8_t> reply) {
    m_table.expire(now, kExpireBudget);
    PacketView v = parse_ipv4(pkt);
    return process_parsed(pkt, v, dir, now, reply);
}

void Translator::process_batch(std::span<PacketRef> batch, Direction dir, TimeMs now) {
    // Software pipeline (as VPP's): packet i's index bucket is prefetched, then kDistance
    // packets later its records, then its session record, and kDistance packets after that it
    // is translated, so several cache misses are in flight at once.
    constexpr std::size_t kChunk = 64, kDistance = 4;
    PacketView views[kChunk];
    const auto hint = [&](std::size_t i, int step) {
        const PacketView& v = views[i];
        if (v.kind != PacketKind::Udp && v.kind != PacketKind::Tcp && v.kind != PacketKind::IcmpQuery) return;
        const Proto p = flow_proto(v);
        if (dir == Direction::Outbound)
            m_table.prefetch(dir, p, v.src, remote_of(p, v.dst), step);
        else
            m_table.prefetch(dir, p, v.dst, remote_of(p, v.src), step);
    };
    for (std::size_t base = 0; base < batch.size(); base += kChunk) {
        const std::size_t n = std::min(kChunk, batch.size() - base);
        PacketRef* refs = batch.data() + base;
        m_table.expire(now, kExpireBudget * std::uint32_t(n));
        for (std::size_t i = 0; i < n; ++i) views[i] = refs[i].parsed ? refs[i].view : parse_ipv4(refs[i].bytes);
        const std::size_t lag = m_table.worth_prefetching() ? 3 * kDistance : 0;
        for (std::size_t i = 0; i < n + lag; ++i) {
            if (lag) {
                if (i < n) hint(i, 0);
                if (i >= kDistance && i - kDistance < n) hint(i - kDistance, 1);
                if (i >= 2 * kDistance && i - 2 * kDistance < n) hint(i - 2 * kDistance, 2);
            }
            if (i >= lag) {
                PacketRef& r = refs[i - lag];
                r.outcome = process_parsed(r.bytes, views[i - lag], dir, now, r.reply);
                r.view = views[i - lag];
                r.parsed = true;
            }
        }
    }
}

Outcome Translator::process_parsed(std::span<std::uint8_t> pkt, PacketView& v, Direction dir, TimeMs now,
                                   std::span<std::uint8_t> reply) {
    Outcome o;
    if (const Counter bad = unusable(v); bad != Counter::translated_out)
        o.reason = bad;
    else
        o = dir == Direction::Outbound ? outbound(pkt, v, now, reply) : inbound(pkt, v, now);
    if (o.action == Action::Drop || o.action == Action::Hold) m_table.counters().add(o.reason);
    return o;
}

Outcome Translator::outbound(std::span<std::uint8_t> pkt, PacketView& v, TimeMs now, std::span<std::uint8_t> reply) {
    Outcome o = v.kind == PacketKind::IcmpError ? error_out(pkt, v, now) : flow_out(pkt, v, now, reply);
    if (o.action != Action::ToOutside || !m_table.config().pool.is_external(v.dst.addr)) return o;
    // Hairpinning (RFC 4787 REQ-9, RFC 5382 REQ-8, RFC 5508 REQ-7): the packet, now with the
    // sender's external endpoint as source, goes back in as if it came from outside.
    Outcome in = inbound(pkt, v, now);
    if (in.action == Action::ToInside) m_table.counters().add(Counter::hairpinned);
    if (in.action != Action::Hold) in.token = o.token;
    return in;
}

Outcome Translator::inbound(std::span<std::uint8_t> pkt, PacketView& v, TimeMs now) {
    return v.kind == PacketKind::IcmpError ? error_in(pkt, v, now) : flow_in(pkt, v, now);
}

// RFC 6888 REQ-11 / RFC 5508 REQ-8: drop the packet, and tell the sender if configured.
Outcome Translator::refuse(Counter why, std::span<std::uint8_t> pkt, const PacketView& v, std::span<std::uint8_t> reply) {
    Outcome o{Action::Drop, why};
    o.reply_len = std::uint16_t(refusal_reply(m_table, pkt, v, reply));
    if (o.reply_len) m_table.counters().add(Counter::replies_built);
    return o;
}

std::uint32_t Translator::next_expired_hold(TimeMs now) {
    const std::uint32_t token = m_holds.pop_expired(now);
    if (token) m_table.counters().add(Counter::syn_hold_expired);
    return token;
}

} // namespace conenat::core
