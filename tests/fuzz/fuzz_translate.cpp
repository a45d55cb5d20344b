// libFuzzer target: a stream of packets in both directions, with a moving clock, through one
// Translator (per-packet and batched). Requires: no crash, checksums that were right stay
// right, and the mapping tables stay consistent (never a corrupted mapping).
#include "conenat/core/nat/translator.hpp"
#include "tests/support/packet_builder.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace conenat::core;
using conenat::test::checksum_errors;
using conenat::test::hex;

namespace {

[[noreturn]] void fail(const std::string& what, std::span<const std::uint8_t> pkt) {
    std::fprintf(stderr, "fuzz_translate: %s\n  %s\n", what.c_str(), hex(pkt).c_str());
    std::abort();
}

NatConfig config_from(std::uint8_t b) {
    NatConfig c;
    c.set_type(NatType(b & 3));
    c.udp.mapping = Behaviour((b >> 2) % 3); // any of the 9 combinations for UDP
    c.pool.external_addrs = {make_ipv4(198, 51, 100, 254), make_ipv4(198, 51, 100, 253)};
    c.pool.ports = (b & 0x10) ? *PortSet::map_e(0x2c, 8, 4) : PortSet::from_ranges({{20000, 20063}});
    c.max_mappings = 48; // small, so that limits and exhaustion are reached
    c.max_sessions = 64;
    c.max_held_syns = 4;
    c.per_host_mappings = (b & 0x20) ? 8 : 0;
    c.on_exhausted = ExhaustedReply(b >> 6 & 1 ? 1 : 2);
    return c;
}

} // namespace

// Input: config byte, then records [flags][len][len bytes of packet]. flags: bit 0 direction,
// bits 1-5 clock step (x 10 s, up to ~5 min), bit 6: run the packet through process_batch.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    Translator t(config_from(data[0]), 99);
    TimeMs now = 1'000'000;
    std::size_t at = 1;
    std::vector<std::uint8_t> pkt, reply(576);
    while (at + 2 <= size) {
        const std::uint8_t flags = data[at], len = data[at + 1];
        at += 2;
        const std::size_t n = std::min<std::size_t>(len, size - at);
        pkt.assign(data + at, data + at + n);
        at += n;
        now += TimeMs((flags >> 1) & 0x1f) * 10'000;
        const bool was_valid = checksum_errors(pkt).empty();
        const Direction dir = (flags & 1) ? Direction::Inbound : Direction::Outbound;
        Outcome o;
        if (flags & 0x40) {
            PacketRef ref{pkt, reply};
            t.process_batch({&ref, 1}, dir, now);
            o = ref.outcome;
        } else {
            o = t.process(pkt, dir, now, reply);
        }
        if (o.reply_len > reply.size()) fail("reply longer than its buffer", pkt);
        if (o.reply_len && !checksum_errors({reply.data(), o.reply_len}).empty()) fail("bad checksum in a reply", reply);
        if ((o.action == Action::ToInside || o.action == Action::ToOutside) && was_valid) {
            const std::string errors = checksum_errors(pkt);
            if (!errors.empty()) fail("translation broke a checksum: " + errors, pkt);
        }
        while (t.next_expired_hold(now)) {}
        if (const std::string e = t.table().consistency_error(); !e.empty()) fail("tables inconsistent: " + e, pkt);
    }
    t.expire(now + 10'000'000);
    if (const std::string e = t.table().consistency_error(); !e.empty()) fail("tables inconsistent after expiry: " + e, {});
    if (t.table().mapping_count() != 0) fail("mappings outlived every timer", {});
    return 0;
}
