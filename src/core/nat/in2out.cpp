// Outbound (inside -> outside) half of the translator.
#include "conenat/core/nat/translator.hpp"

#include "conenat/core/nat/first_packet.hpp"
#include "conenat/core/nat/flow_key.hpp"

#include "conenat/core/packet/checksum.hpp"
#include "conenat/core/packet/icmp_build.hpp"
#include "conenat/core/packet/rewrite.hpp"

namespace conenat::core {

Outcome Translator::flow_out(std::span<std::uint8_t> pkt, PacketView& v, TimeMs now, std::span<std::uint8_t> reply) {
    const FirstPacket first = first_outbound(m_table, v, now);
    if (first.action == FirstAction::Refuse) return refuse(first.reason, pkt, v, reply);
    if (first.action != FirstAction::Pass) return {Action::Drop, first.reason};
    const Proto p = flow_proto(v);
    const Endpoint remote = remote_of(p, v.dst);
    const MappingId m = first.mapping;
    Outcome o{Action::ToOutside, Counter::translated_out};
    if (p == Proto::Tcp) {
        o = tcp_out(pkt, v, m, remote, now);
        if (o.action == Action::Drop) return o;
    }
    if (!m_table.refresh_outbound(m, remote, now)) return {Action::Drop, Counter::drop_session_cap};
    rewrite_source(pkt, v, m_table.mapping(m).external());
    m_table.counters().add(Counter::translated_out);
    return o;
}

Outcome Translator::tcp_out(std::span<std::uint8_t> pkt, const PacketView& v, MappingId m, Endpoint remote, TimeMs now) {
    const std::uint8_t flags = v.tcp_flags;
    const std::uint8_t* tcp = pkt.data() + v.l4_off;
    SessionId s = m_table.find_connection(m, remote, now);
    if (s == kNil) {
        if (flags & tcp_flag::Rst) return {Action::Drop, Counter::drop_tcp_no_session};
        // A connection we did not see open (e.g. after a restart) is picked up as transitory.
        Counter why{};
        s = m_table.open_connection(m, remote, (flags & tcp_flag::Syn) ? TcpState::SynOut : TcpState::Trans, now,
                                    Direction::Outbound, why);
        if (s == kNil) return {Action::Drop, why};
    } else {
        m_table.set_connection_state(s, tcp_next(m_table.session(s).tcp, Direction::Outbound, flags), now, true);
    }
    Session& session = m_table.session(s);
    if (flags & tcp_flag::Syn) {
        if (const int shift = tcp_window_scale(pkt, v); shift >= 0) {
            session.tcp_offers |= Session::kScaleInside;
            session.tcp_scale = std::uint8_t(shift);
        }
    }
    if (session.tcp == TcpState::SynOut && (flags & tcp_flag::Syn)) {
        session.tcp_track = load32(tcp + 4) + 1; // the SYN-ACK (or RST) must acknowledge ISN + 1
    } else if (flags & tcp_flag::Ack) {
        // What the inside will accept next: RCV.NXT and RCV.WND (RFC 793 §3.3), the window scaled
        // (RFC 7323 §2.3) except in a SYN, and only when both SYNs offered scaling.
        session.tcp_track = load32(tcp + 8);
        const bool scaled = !(flags & tcp_flag::Syn) && session.tcp_offers == (Session::kScaleInside | Session::kScaleRemote);
        session.tcp_window = std::uint32_t(load16(tcp + 14)) << (scaled ? session.tcp_scale : 0);
    }
    Outcome o{Action::ToOutside, Counter::translated_out};
    // RFC 5382 REQ-4: an outbound SYN of a held connection completes a simultaneous open.
    if (flags & tcp_flag::Syn) {
        o.token = m_holds.release(m_table.mapping(m).external(), remote);
        if (o.token) m_table.counters().add(Counter::syn_released);
    }
    return o;
}

// RFC 5508 REQ-5: an error from inside about an inbound packet; never refreshes (RFC 7857 §7.1).
Outcome Translator::error_out(std::span<std::uint8_t> pkt, PacketView& v, TimeMs now) {
    const Proto p = Proto(v.inner.proto);
    const MappingId m = m_table.find_outbound(p, v.inner.dst, remote_of(p, v.inner.src), now);
    if (m == kNil) return {Action::Drop, Counter::drop_icmp_no_mapping};
    const Mapping& map = m_table.mapping(m);
    rewrite_inner_destination(pkt, v, map.external());
    rewrite_source_addr(pkt, v, map.ext_addr);
    m_table.counters().add(Counter::icmp_errors_translated);
    m_table.counters().add(Counter::translated_out);
    return {Action::ToOutside, Counter::translated_out};
}

} // namespace conenat::core
