// The NAT's decision on the first packet of a flow, the one thing this project exists for:
// mapping (RFC 4787 §4), filtering (§5), hairpinning (REQ-9, RFC 5382 REQ-8), unsolicited
// SYNs (RFC 5382 REQ-4) and refusals at a limit (RFC 6888 REQ-11). One policy for every
// engine: the Translator (which then tracks and rewrites the flow's packets itself) and the
// conntrack engine (whose kernel does, once the maps hold the mapping). Changes the table and
// the held SYNs; never touches the packet.
#pragma once

#include "conenat/core/nat/mapping_table.hpp"
#include "conenat/core/nat/syn_hold.hpp"
#include "conenat/core/packet/parse.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace conenat::core {

enum class FirstAction : std::uint8_t {
    Pass,   // through `mapping`
    Drop,   // `reason` says why
    Refuse, // a limit refused a new mapping (`reason`): drop, and tell the sender (refusal_reply)
    Hold,   // an unsolicited SYN, now held under `token` (RFC 5382 REQ-4)
};

struct FirstPacket {
    FirstAction action = FirstAction::Drop;
    Counter reason = Counter::drop_malformed; // Drop, Refuse; syn_held for Hold
    MappingId mapping = kNil;                 // Pass: the mapping the packet goes through
    std::uint32_t token = 0;                  // Hold: the SynHold token
};

// A TCP SYN without ACK or RST: what opens a connection from outside.
bool bare_syn(const PacketView& v);

// Why `v` is no flow packet the NAT maps in `dir` (UDP or TCP with both ports set, ICMP echo
// request outbound, echo reply inbound); nullopt when it is one.
std::optional<Counter> unmappable(const PacketView& v, Direction dir);

// An outbound packet: its mapping, found or created (RFC 4787 §4; a lone RST creates none).
FirstPacket first_outbound(MappingTable& table, const PacketView& v, TimeMs now);

// An inbound packet no connection of `m` (kNil: no mapping owns v.dst) takes: the filter of
// `m` for `remote` (RFC 4787 §5). A refused bare SYN `pkt` is held in `holds`, keyed by v.dst and v.src.
FirstPacket filter_inbound(MappingTable& table, SynHold& holds, std::span<const std::uint8_t> pkt, const PacketView& v,
                           MappingId m, Endpoint remote, TimeMs now);

// An inbound first packet of a flow the kernel then tracks (the conntrack engine). `hairpin`:
// it comes from inside, so the sender's mapping is made or refreshed first and the receiver's
// filter judges the sender's external endpoint (RFC 4787 REQ-9, RFC 5382 REQ-8).
FirstPacket first_inbound(MappingTable& table, SynHold& holds, std::span<const std::uint8_t> pkt, const PacketView& v,
                          bool hairpin, TimeMs now);

// Writes into `out` (>= icmp::kErrorBytes) the ICMP 3/1 or 3/13 that tells the sender of refused
// packet `pkt` (RFC 6888 REQ-11, RFC 5508 REQ-8); 0 when not configured or not allowed.
std::size_t refusal_reply(MappingTable& table, std::span<const std::uint8_t> pkt, const PacketView& v,
                          std::span<std::uint8_t> out);

// Writes into `out` (>= icmp::kErrorBytes) the ICMP 3/3 for the sender of `held`, a held SYN whose time
// is over (RFC 5382 REQ-4), when configured; 0: send nothing.
std::size_t unsolicited_syn_reply(const NatConfig& config, std::span<const std::uint8_t> held,
                                  std::span<std::uint8_t> out);

} // namespace conenat::core
