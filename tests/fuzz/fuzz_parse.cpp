// libFuzzer target: parse arbitrary bytes; for translatable packets also rewrite them and
// build an ICMP error about them, and require that checksums that were right stay right.
#include "conenat/core/packet/checksum.hpp"
#include "conenat/core/packet/icmp_build.hpp"
#include "conenat/core/packet/parse.hpp"
#include "conenat/core/packet/rewrite.hpp"
#include "tests/support/packet_builder.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace conenat::core;
using conenat::test::Bytes;
using conenat::test::checksum_errors;
using conenat::test::hex;

namespace {

void fail(const char* what, std::span<const std::uint8_t> pkt, const std::string& detail = "") {
    std::fprintf(stderr, "fuzz_parse: %s %s\n  %s\n", what, detail.c_str(), hex(pkt).c_str());
    std::abort();
}

void expect(bool ok, const char* what, std::span<const std::uint8_t> pkt) {
    if (!ok)
        fail(what, pkt);
}

void check_bounds(const PacketView& v, std::span<const std::uint8_t> pkt) {
    if (v.kind == PacketKind::Malformed)
        return;
    expect(v.ip_len <= pkt.size() && v.l4_off == v.ip_hlen && v.ip_hlen >= 20 && v.l4_off <= v.ip_len,
           "view outside the packet", pkt);
    if (v.kind == PacketKind::IcmpError)
        expect(v.inner.ip_off >= v.l4_off + 8 && v.inner.l4_off == v.inner.ip_off + v.inner.ip_hlen &&
                   v.inner.l4_len >= 8 && v.inner.l4_off + v.inner.l4_len <= v.ip_len,
               "inner view outside the packet", pkt);
}

// Rewrite targets come from the bytes past ip_len (parse ignores them), so the fuzzer steers them.
Endpoint target(std::span<const std::uint8_t> tail, std::size_t at, Endpoint fallback) {
    if (tail.size() < at + 6)
        return fallback;
    return {load32(&tail[at]), load16(&tail[at + 4])};
}

bool same_endpoints(const PacketView& a, const PacketView& b) {
    return a.kind == b.kind && a.src == b.src && a.dst == b.dst && a.inner.src == b.inner.src &&
           a.inner.dst == b.inner.dst;
}

void check_rewrites(std::span<const std::uint8_t> in, const PacketView& view, bool was_valid) {
    const auto tail = in.subspan(view.ip_len);
    const Endpoint a = target(tail, 0, {make_ipv4(198, 51, 100, 254), 20000});
    const Endpoint b = target(tail, 6, {make_ipv4(10, 0, 0, 2), 0});
    Bytes buf(in.begin(), in.begin() + view.ip_len);
    PacketView v = view;
    switch (v.kind) {
    case PacketKind::Udp:
    case PacketKind::Tcp:
    case PacketKind::IcmpQuery:
        rewrite_source(buf, v, a);
        rewrite_destination(buf, v, b);
        break;
    case PacketKind::IcmpError:
        rewrite_inner_source(buf, v, a);
        rewrite_inner_destination(buf, v, b);
        rewrite_destination_addr(buf, v, a.addr);
        break;
    default:
        rewrite_source_addr(buf, v, a.addr);
        break;
    }
    if (was_valid) {
        const std::string errors = checksum_errors(buf);
        if (!errors.empty())
            fail("rewrite broke a checksum:", buf, errors);
    }
    expect(same_endpoints(parse_ipv4(buf), v), "reparse after rewrite disagrees with the updated view", buf);
}

void check_icmp_error(std::span<const std::uint8_t> in, const PacketView& view, bool was_valid) {
    std::array<std::uint8_t, 576> out{};
    const std::size_t n = build_icmp_error(in, view, out, icmp::DestUnreachable, icmp::CodeFragNeeded,
                                           make_ipv4(10, 0, 0, 1), 1400);
    if (n == 0)
        return;
    const auto err = std::span<const std::uint8_t>(out).first(n);
    const PacketView ev = parse_ipv4(err);
    // An error about a packet with under 8 transport bytes cannot quote 8 of them.
    const bool short_l4 = view.ip_len < view.ip_hlen + 8u;
    expect(short_l4 ? ev.defect == Defect::BadInnerHeader
                    : ev.kind == PacketKind::IcmpError || ev.kind == PacketKind::Other,
           "built error does not parse", err);
    const bool translatable =
        view.kind == PacketKind::Udp || view.kind == PacketKind::Tcp || view.kind == PacketKind::IcmpQuery;
    if (translatable)
        expect(ev.kind == PacketKind::IcmpError && ev.inner.src == view.src && ev.inner.dst == view.dst,
               "built error does not quote the packet", err);
    if (was_valid) {
        const std::string errors = checksum_errors(err);
        if (!errors.empty())
            fail("built error has a wrong checksum:", err, errors);
    }
}

void set_checksum(std::span<std::uint8_t> covered, std::size_t field, std::uint32_t pseudo = 0) {
    store16(&covered[field], 0);
    store16(&covered[field], csum_finish(csum_partial(covered, pseudo)));
}

std::uint32_t pseudo_sum(std::span<const std::uint8_t> ip, std::uint8_t proto, std::size_t len) {
    return csum_partial(ip.subspan(12, 8), std::uint32_t(proto) + std::uint32_t(len));
}

// Fixes the checksums of the transport segment `l4` of the IPv4 header `ip` (none for UDP 0).
void repair_l4(std::span<std::uint8_t> ip, std::uint8_t proto, std::span<std::uint8_t> l4) {
    if (proto == std::uint8_t(Proto::Tcp) && l4.size() >= 20)
        set_checksum(l4, 16, pseudo_sum(ip, proto, l4.size()));
    if (proto == std::uint8_t(Proto::Udp) && l4.size() >= 8 && load16(&l4[6]) != 0 && load16(&l4[4]) >= 8 &&
        load16(&l4[4]) <= l4.size()) {
        const auto udp = l4.first(load16(&l4[4]));
        set_checksum(udp, 6, pseudo_sum(ip, proto, udp.size()));
        if (load16(&udp[6]) == 0)
            store16(&udp[6], 0xffff);
    }
}

// Makes every checksum of a fuzzed packet right, so that most inputs reach the rewrites
// with was_valid set. Structure is left as the fuzzer made it.
void repair(std::span<std::uint8_t> pkt) {
    if (pkt.size() < 20 || (pkt[0] & 0x0f) < 5 || std::size_t(pkt[0] & 0x0f) * 4 > pkt.size())
        return;
    const std::size_t hlen = std::size_t(pkt[0] & 0x0f) * 4;
    const std::size_t len = std::clamp<std::size_t>(load16(&pkt[2]), hlen, pkt.size());
    set_checksum(pkt.first(hlen), 10);
    auto l4 = pkt.subspan(hlen, len - hlen);
    if (pkt[9] != std::uint8_t(Proto::Icmp)) {
        repair_l4(pkt, pkt[9], l4);
        return;
    }
    if (l4.size() < 8)
        return;
    auto quoted = l4.subspan(8);
    const std::size_t qhlen = quoted.empty() ? 0 : std::size_t(quoted[0] & 0x0f) * 4;
    if (qhlen >= 20 && qhlen <= quoted.size()) {
        set_checksum(quoted.first(qhlen), 10);
        const std::size_t qlen = load16(&quoted[2]);
        if (qlen >= qhlen && qlen <= quoted.size())
            repair_l4(quoted, quoted[9], quoted.subspan(qhlen, qlen - qhlen));
    }
    set_checksum(l4, 2);
}

void run(std::span<const std::uint8_t> in) {
    const PacketView view = parse_ipv4(in);
    check_bounds(view, in);
    if (view.kind == PacketKind::Malformed)
        return;
    const bool was_valid = checksum_errors(in.first(view.ip_len)).empty();
    check_rewrites(in, view, was_valid);
    check_icmp_error(in, view, was_valid);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> in(data, size);
    run(in);
    Bytes repaired(in.begin(), in.end());
    repair(repaired);
    if (repaired != Bytes(in.begin(), in.end()))
        run(repaired);
    return 0;
}
