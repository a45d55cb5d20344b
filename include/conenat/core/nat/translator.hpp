// The packet path of the software engines: bytes in -> parse -> decide (mapping + filtering
// policy) -> rewrite (checksums) -> bytes out, in place. Hooks must not retain the buffers.
#pragma once

#include "conenat/core/nat/first_packet.hpp"
#include "conenat/core/nat/mapping_table.hpp"
#include "conenat/core/nat/syn_hold.hpp"
#include "conenat/core/packet/parse.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace conenat::core {

enum class Action : std::uint8_t {
    Drop,      // `reason` says why; a reply for the sender may be in the reply buffer
    ToOutside, // translated, send on the external side
    ToInside,  // translated (inbound or hairpinned), send on the internal side
    Hold,      // unsolicited SYN: keep the packet under `token` until released or expired
};

struct Outcome {
    Action action = Action::Drop;
    Counter reason = Counter::drop_malformed; // for Drop and Hold
    std::uint16_t reply_len = 0;              // > 0: an ICMP error for the sender is in the reply buffer
    std::uint32_t token = 0;                  // Hold: this packet's token; otherwise a released held SYN (0: none)
};

// One packet of a batch, translated in place; `reply` as for Translator::process. `view` is
// parse_ipv4(bytes) going in when `parsed` (the caller parsed it already), and the packet's view
// after translation coming out (always parsed then): nothing parses a packet twice.
struct PacketRef {
    std::span<std::uint8_t> bytes;
    std::span<std::uint8_t> reply = {};
    Outcome outcome = {};
    PacketView view = {};
    bool parsed = false;
};

class Translator {
public:
    Translator(const NatConfig& config, std::uint64_t seed);

    // Translates `pkt` in place. When a flow is refused and the config asks for it, an ICMP
    // error for the sender is written to `reply` (>= 576 bytes to be sure it fits).
    Outcome process(std::span<std::uint8_t> pkt, Direction dir, TimeMs now, std::span<std::uint8_t> reply = {});
    // The same for a batch of packets of one direction, with the table lookups of the whole
    // batch prefetched first: the way engines should call it.
    void process_batch(std::span<PacketRef> batch, Direction dir, TimeMs now);
    // Live reconfiguration (MappingTable::reconfigure), with the worker's thread paused. Held
    // SYNs stay held; new ones follow next's bound per source (the store keeps its capacity).
    void reconfigure(const NatConfig& next, TimeMs now) {
        m_table.reconfigure(next, now);
        m_holds.set_per_source(next.max_held_syns_per_source);
    }
    // Runs the timers. Engines call it at least every second.
    void expire(TimeMs now) { m_table.expire(now); }
    // The next held SYN whose hold time is over (0: none). The engine drops that packet (if it
    // keeps it: holds().take()), or sends what unsolicited_syn_reply() builds for it.
    std::uint32_t next_expired_hold(TimeMs now);
    // ICMP 3/3 for an expired held SYN when configured (RFC 5382 REQ-4); 0: send nothing.
    std::size_t unsolicited_syn_reply(std::span<const std::uint8_t> held, std::span<std::uint8_t> out) const {
        return core::unsolicited_syn_reply(m_table.config(), held, out);
    }
    // The SYNs held (Outcome::token names them) and their packets.
    SynHold& holds() { return m_holds; }

    MappingTable& table() { return m_table; }
    const MappingTable& table() const { return m_table; }
    const Counters& counters() const { return m_table.counters(); }

private:
    Outcome process_parsed(std::span<std::uint8_t> pkt, PacketView& v, Direction dir, TimeMs now,
                           std::span<std::uint8_t> reply);
    Outcome outbound(std::span<std::uint8_t> pkt, PacketView& v, TimeMs now, std::span<std::uint8_t> reply);
    Outcome inbound(std::span<std::uint8_t> pkt, PacketView& v, TimeMs now);
    Outcome flow_out(std::span<std::uint8_t> pkt, PacketView& v, TimeMs now, std::span<std::uint8_t> reply);
    Outcome tcp_out(std::span<std::uint8_t> pkt, const PacketView& v, MappingId m, Endpoint remote, TimeMs now);
    Outcome error_out(std::span<std::uint8_t> pkt, PacketView& v, TimeMs now);
    Outcome flow_in(std::span<std::uint8_t> pkt, PacketView& v, TimeMs now);
    Outcome tcp_in(std::span<std::uint8_t> pkt, PacketView& v, MappingId m, SessionId s, TimeMs now);
    Outcome deliver_in(std::span<std::uint8_t> pkt, PacketView& v, MappingId m);
    Outcome error_in(std::span<std::uint8_t> pkt, PacketView& v, TimeMs now);
    Outcome refuse(Counter why, std::span<std::uint8_t> pkt, const PacketView& v, std::span<std::uint8_t> reply);

    MappingTable m_table;
    SynHold m_holds;
};

} // namespace conenat::core
