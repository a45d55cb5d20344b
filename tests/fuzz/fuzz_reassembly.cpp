// libFuzzer target: a stream of fragments, raw or built from a few bytes, with a moving clock,
// through one small Reassembler. Requires: no crash, no more datagrams held than slots, every
// Dropped counted, and every Complete datagram a whole, unfragmented IPv4 packet (total length
// == its size, header checksum right, MF and offset clear) made of the bytes that were sent.
#include "conenat/core/packet/checksum.hpp"
#include "conenat/core/packet/parse.hpp"
#include "conenat/core/packet/reassembly.hpp"
#include "tests/support/packet_builder.hpp"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace conenat::core;
using conenat::test::Bytes;
using conenat::test::hex;

namespace {

[[noreturn]] void fail(const std::string& what, std::span<const std::uint8_t> pkt) {
    std::fprintf(stderr, "fuzz_reassembly: %s\n  %s\n", what.c_str(), hex(pkt).c_str());
    std::abort();
}

std::uint64_t drops(const ReassemblyCounters& c) {
    return c.dropped_malformed + c.dropped_overlap + c.dropped_too_big + c.dropped_source_share;
}

void set_ip_checksum(std::span<std::uint8_t> pkt, std::size_t hlen) {
    store16(&pkt[10], 0);
    store16(&pkt[10], csum_finish(csum_partial(pkt.first(hlen))));
}

// The byte at `pos` of a synthetic datagram's payload: both ends can compute it, so a
// reassembled synthetic datagram can be checked byte by byte.
std::uint8_t pattern(std::uint8_t key, std::size_t pos) { return std::uint8_t(key * 31 + pos * 7 + (pos >> 8)); }

constexpr Ipv4 kSources[4] = {make_ipv4(10, 0, 0, 2), make_ipv4(10, 0, 0, 3), make_ipv4(198, 51, 100, 1),
                              make_ipv4(198, 51, 100, 2)};
constexpr Ipv4 kDestination = make_ipv4(198, 51, 100, 254);
constexpr std::uint8_t kSyntheticProto = 253; // RFC 3692 experimental: marks synthetic datagrams

// A fragment from 4 bytes. sel: bits 0-1 source, 2-3 id, 4 MF, 5 options in the header,
// 6 corrupted payload, 7 an odd tail (last fragments only); off (16 bits): bit 15 set: right
// after the previous fragment of the same datagram (or at 0: chains are easy to make), bit 14:
// the offset in units in the low 13 bits (far), else in the low 8 bits; units: payload / 8.
// Offsets are multiples of 8, so "right after" an odd tail overlaps it.
Bytes synthetic(std::uint8_t sel, std::uint16_t off, std::uint8_t units, std::array<std::size_t, 16>& next) {
    const bool more = sel & 0x10, opts = sel & 0x20;
    const std::size_t hlen = opts ? 24 : 20;
    const std::size_t offset = (off & 0x8000)   ? next[sel & 0x0f] / 8 * 8
                               : (off & 0x4000) ? std::size_t(off & 0x1fff) * 8
                                                : std::size_t(off & 0xff) * 8;
    const std::size_t len = std::size_t(units) * 8 + (!more && (sel & 0x80) ? 3 : 0);
    if (offset / 8 > 0x1fff || hlen + len > 0xffff)
        return {};
    next[sel & 0x0f] = offset + len;
    Bytes p(hlen + len, 0);
    p[0] = std::uint8_t(0x40 | hlen / 4);
    store16(&p[2], std::uint16_t(p.size()));
    store16(&p[4], std::uint16_t(sel >> 2 & 3));
    store16(&p[6], std::uint16_t((more ? 0x2000 : 0) | offset / 8));
    p[8] = 64;
    p[9] = kSyntheticProto;
    store32(&p[12], kSources[sel & 3]);
    store32(&p[16], kDestination);
    if (opts) {
        const std::uint8_t nops[4] = {1, 1, 1, 0}; // NOPs, end of options
        std::memcpy(&p[20], nops, sizeof nops);
    }
    for (std::size_t i = 0; i < len; ++i)
        p[hlen + i] = std::uint8_t(pattern(sel & 0x0f, offset + i) ^ ((sel & 0x40) ? 0x5a : 0));
    set_ip_checksum(p, hlen);
    return p;
}

// Makes the header of a raw fuzzed packet readable: IHL within the buffer, total length = the
// buffer, checksum right (so that most raw inputs get past the header checks).
void repair(Bytes& p) {
    if (p.size() < 20)
        return;
    std::size_t hlen = std::size_t(p[0] & 0x0f) * 4;
    if (hlen < 20 || hlen > p.size())
        hlen = 20;
    p[0] = std::uint8_t(0x40 | hlen / 4);
    store16(&p[2], std::uint16_t(p.size()));
    set_ip_checksum(p, hlen);
}

// Raw packets may not pose as synthetic ones (whose payload check would then fail).
void keep_out_of_synthetic(Bytes& p) {
    if (p.size() < 20 || p[9] != kSyntheticProto)
        return;
    const std::uint16_t old = load16(&p[8]);
    p[9] = kSyntheticProto - 1;
    store16(&p[10], csum_replace16(load16(&p[10]), old, load16(&p[8])));
}

void check_complete(std::span<const std::uint8_t> d, std::size_t max_datagram) {
    if (d.size() < 20 || d.size() > max_datagram)
        fail("datagram size out of bounds", d);
    const std::size_t hlen = std::size_t(d[0] & 0x0f) * 4;
    if (d[0] >> 4 != 4 || hlen < 20 || hlen > d.size())
        fail("datagram header unreadable", d);
    if (load16(&d[2]) != d.size())
        fail("total length is not the datagram's size", d);
    if (csum_fold(csum_partial(d.first(hlen))) != 0xffff)
        fail("header checksum wrong", d);
    if ((load16(&d[6]) & 0x3fff) != 0)
        fail("MF or offset left set", d);
    const PacketView v = parse_ipv4(d);
    if (v.kind == PacketKind::Fragment || v.defect == Defect::BadIpHeader || v.defect == Defect::BadIpChecksum ||
        v.defect == Defect::Truncated)
        fail("parse_ipv4 does not see a whole IPv4 packet", d);
    // Synthetic datagrams (only they use this protocol with these addresses) carry the pattern.
    if (d[9] == kSyntheticProto && load32(&d[16]) == kDestination && load16(&d[4]) < 4) {
        std::uint8_t src = 0;
        while (src < 4 && kSources[src] != load32(&d[12]))
            ++src;
        if (src == 4)
            return;
        const std::uint8_t key = std::uint8_t(src | load16(&d[4]) << 2);
        for (std::size_t i = hlen; i < d.size(); ++i)
            if (d[i] != pattern(key, i - hlen) && d[i] != (pattern(key, i - hlen) ^ 0x5a))
                fail("payload byte " + std::to_string(i - hlen) + " was never sent", d);
    }
}

} // namespace

// Input: records of [ctl][step] then, ctl bit 0 clear: [len hi][len lo][len bytes] (raw; ctl bit
// 2: repair its header), set: [sel][off hi][off lo][units] (synthetic). The clock advances by
// step * 16 ms (up to 4 s; the timeout is 1 s); ctl bit 1: expire(now) after the packet.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Two reassemblers kept across inputs (their buffers are large for ASan to allocate each
    // time); every input ends with them empty, so runs do not depend on each other.
    static Reassembler big({.slots = 4, .slots_per_source = 2, .timeout_ms = 1000, .max_datagram = 65535});
    static Reassembler small({.slots = 4, .slots_per_source = 2, .timeout_ms = 1000, .max_datagram = 1500});
    const bool use_big = size && (data[0] & 1);
    Reassembler& r = use_big ? big : small;
    const ReassemblyConfig config{.slots = 4, .timeout_ms = 1000, .max_datagram = use_big ? 65535u : 1500u};
    TimeMs now = 1'000'000;
    std::array<std::size_t, 16> next{}; // per synthetic datagram: the end of its last fragment
    std::size_t at = size ? 1 : 0;
    Bytes pkt;
    while (at + 2 <= size) {
        const std::uint8_t ctl = data[at], step = data[at + 1];
        at += 2;
        if (ctl & 1) {
            if (at + 4 > size)
                break;
            pkt = synthetic(data[at], std::uint16_t(data[at + 1] << 8 | data[at + 2]), data[at + 3], next);
            at += 4;
        } else {
            if (at + 2 > size)
                break;
            const std::size_t n = std::min<std::size_t>(std::size_t(data[at]) << 8 | data[at + 1], size - at - 2);
            pkt.assign(data + at + 2, data + at + 2 + n);
            at += 2 + n;
            if (ctl & 4)
                repair(pkt);
            keep_out_of_synthetic(pkt);
        }
        now += TimeMs(step) * 16;

        const ReassemblyCounters before = r.counters();
        const Reassembler::Result res = r.feed(pkt, now);
        const ReassemblyCounters& after = r.counters();
        if (r.in_progress() > config.slots)
            fail("more datagrams in progress than slots", pkt);
        const bool counted = after.fragments_in == before.fragments_in + 1;
        switch (res.status) {
        case Reassembler::Status::NotFragment:
            if (after.fragments_in != before.fragments_in || !res.datagram.empty())
                fail("NotFragment counted or with a datagram", pkt);
            break;
        case Reassembler::Status::Incomplete:
            if (!counted || !res.datagram.empty())
                fail("Incomplete not counted or with a datagram", pkt);
            break;
        case Reassembler::Status::Dropped:
            if (!counted || drops(after) != drops(before) + 1 || !res.datagram.empty())
                fail("Dropped without exactly one drop counted", pkt);
            break;
        case Reassembler::Status::Complete:
            if (!counted || after.datagrams_done != before.datagrams_done + 1)
                fail("Complete not counted", pkt);
            check_complete(res.datagram, config.max_datagram);
            break;
        }
        if (ctl & 2)
            r.expire(now);
    }
    r.expire(now + config.timeout_ms);
    if (r.in_progress() != 0)
        fail("datagrams outlived their deadline", {});
    return 0;
}
