#include "conenat/core/packet/checksum.hpp"
#include "conenat/core/packet/parse.hpp"
#include "tests/support/packet_builder.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <optional>
#include <vector>

using namespace conenat::core;
using conenat::test::Bytes;
using conenat::test::Pkt;
using conenat::test::ep;
using conenat::test::hex;

namespace {

void fix_ip_checksum(Bytes& pkt) {
    const std::size_t hlen = std::min<std::size_t>(std::size_t(pkt[0] & 0x0f) * 4, pkt.size());
    store16(&pkt[10], 0);
    store16(&pkt[10], csum_finish(csum_partial(std::span(pkt).first(hlen))));
}

// A copy of `pkt` changed by `edit`, with its IP header checksum made right again.
Bytes edited(Bytes pkt, const std::function<void(Bytes&)>& edit) {
    edit(pkt);
    fix_ip_checksum(pkt);
    return pkt;
}

Bytes first(const Bytes& pkt, std::size_t n) { return Bytes(pkt.begin(), pkt.begin() + std::ptrdiff_t(n)); }

const Bytes udp_pkt = Pkt::udp("10.0.0.2:5000", "198.51.100.1:3478").payload("hello").bytes();
const Bytes tcp_pkt = Pkt::tcp("10.0.0.2:40000", "198.51.100.1:80", tcp_flag::Syn).seq(1).bytes();
const Bytes echo_pkt = Pkt::icmp_echo("10.0.0.2", "198.51.100.1", 0x1234).payload("ping").bytes();
const Bytes quoted_udp = Pkt::udp("198.51.100.254:20000", "198.51.100.1:3478").payload("data").bytes();
const Bytes options = {0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00}; // router alert + NOPs

Bytes error_quoting(const Bytes& quoted, std::size_t quote_len = 0) {
    return Pkt::icmp_error("198.51.100.9", "198.51.100.254", 3, 3, quoted, quote_len).bytes();
}

struct Case {
    const char* description;
    Bytes bytes;
    PacketKind kind;
    Defect defect = Defect::None;
    std::optional<Endpoint> src{}, dst{};
};

std::vector<Case> cases() {
    const Bytes error_udp = error_quoting(quoted_udp);
    const auto none = Defect::None;
    return {
        {"UDP", udp_pkt, PacketKind::Udp, none, ep("10.0.0.2:5000"), ep("198.51.100.1:3478")},
        {"UDP with port 0 is still parsed", Pkt::udp("10.0.0.2:0", "198.51.100.1:0").bytes(), PacketKind::Udp,
         none, ep("10.0.0.2:0"), ep("198.51.100.1:0")},
        {"bytes past the total length are ignored", [] { Bytes b = udp_pkt; b.resize(b.size() + 3, 0xee); return b; }(),
         PacketKind::Udp, none, ep("10.0.0.2:5000"), ep("198.51.100.1:3478")},
        {"UDP behind IP options", Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").ip_options(options).bytes(),
         PacketKind::Udp, none, ep("10.0.0.2:5000"), ep("198.51.100.1:53")},
        {"TCP SYN", tcp_pkt, PacketKind::Tcp, none, ep("10.0.0.2:40000"), ep("198.51.100.1:80")},
        {"ICMP echo request", echo_pkt, PacketKind::IcmpQuery, none, ep("10.0.0.2:4660"), ep("198.51.100.1:4660")},
        {"ICMP echo reply", Pkt::icmp_echo("198.51.100.1", "10.0.0.2", 7, true).bytes(), PacketKind::IcmpQuery,
         none, ep("198.51.100.1:7"), ep("10.0.0.2:7")},
        {"ICMP echo with code 1 is Other", edited(echo_pkt, [](Bytes& b) { b[21] = 1; }), PacketKind::Other},
        {"ICMP timestamp is Other", edited(echo_pkt, [](Bytes& b) { b[20] = 13; }), PacketKind::Other},
        {"GRE is Other", Pkt::raw_ip("10.0.0.2", "198.51.100.1", 47).bytes(), PacketKind::Other, none,
         ep("10.0.0.2:0"), ep("198.51.100.1:0")},
        {"ICMP 3/3 quoting UDP", error_udp, PacketKind::IcmpError, none, ep("198.51.100.9:0"),
         ep("198.51.100.254:0")},
        {"ICMP-3c: quoted transport checksum is not validated",
         error_quoting(Pkt::udp("198.51.100.254:20000", "198.51.100.1:53").bad_l4_checksum().bytes(), 36),
         PacketKind::IcmpError},
        {"ICMP error quoting GRE is Other",
         error_quoting(Pkt::raw_ip("198.51.100.254", "198.51.100.1", 47).payload("12345678").bytes()),
         PacketKind::Other},
        {"ICMP error quoting an ICMP error is Other", error_quoting(error_udp), PacketKind::Other},
        {"ICMP error quoting a non-first fragment is Other",
         error_quoting(edited(quoted_udp, [](Bytes& b) { b[7] = 1; })), PacketKind::Other},
        {"non-first fragment", Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").frag_offset(10).bytes(),
         PacketKind::Fragment, none, ep("10.0.0.2:0"), ep("198.51.100.1:0")},
        {"non-first fragment with garbage where L4 would be",
         Pkt::raw_ip("10.0.0.2", "198.51.100.1", 6).payload("xy").frag_offset(1).bytes(), PacketKind::Fragment},
        {"non-first fragment of an ICMP error",
         Pkt::icmp_error("198.51.100.9", "198.51.100.254", 3, 3, quoted_udp).frag_offset(3).bytes(),
         PacketKind::Fragment},
        {"first fragment: UDP length beyond the fragment",
         edited(Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").payload("abcdefgh").mf().bytes(),
                [](Bytes& b) { store16(&b[24], 1400); }),
         PacketKind::Udp, none, ep("10.0.0.2:5000"), ep("198.51.100.1:53")},

        {"empty buffer", {}, PacketKind::Malformed, Defect::Truncated},
        {"19 bytes", first(udp_pkt, 19), PacketKind::Malformed, Defect::Truncated},
        {"IHL past the buffer", first(Pkt::raw_ip("10.0.0.2", "10.0.0.3", 47).ip_options(Bytes(40, 1)).bytes(), 40),
         PacketKind::Malformed, Defect::Truncated},
        {"total length past the buffer", edited(udp_pkt, [](Bytes& b) { store16(&b[2], 200); }),
         PacketKind::Malformed, Defect::Truncated},
        {"IP version 6", edited(udp_pkt, [](Bytes& b) { b[0] = 0x65; }), PacketKind::Malformed,
         Defect::BadIpHeader},
        {"IHL 4", edited(udp_pkt, [](Bytes& b) { b[0] = 0x44; }), PacketKind::Malformed, Defect::BadIpHeader},
        {"total length below IHL*4", edited(udp_pkt, [](Bytes& b) { store16(&b[2], 16); }), PacketKind::Malformed,
         Defect::BadIpHeader},
        {"bad IP header checksum", Pkt::udp("10.0.0.2:1", "10.0.0.3:2").bad_ip_checksum().bytes(),
         PacketKind::Malformed, Defect::BadIpChecksum},
        {"UDP header cut short", Pkt::raw_ip("10.0.0.2", "10.0.0.3", 17).payload("1234567").bytes(),
         PacketKind::Malformed, Defect::Truncated},
        {"UDP length below 8", edited(udp_pkt, [](Bytes& b) { store16(&b[24], 7); }), PacketKind::Malformed,
         Defect::BadL4Header},
        {"UDP length past the IP payload", edited(udp_pkt, [](Bytes& b) { store16(&b[24], 14); }),
         PacketKind::Malformed, Defect::BadL4Header},
        {"TCP header cut short", Pkt::raw_ip("10.0.0.2", "10.0.0.3", 6).payload(Bytes(19, 0)).bytes(),
         PacketKind::Malformed, Defect::Truncated},
        {"TCP data offset 4", edited(tcp_pkt, [](Bytes& b) { b[32] = 0x40; }), PacketKind::Malformed,
         Defect::BadL4Header},
        {"TCP data offset past the packet", edited(tcp_pkt, [](Bytes& b) { b[32] = 0x60; }), PacketKind::Malformed,
         Defect::BadL4Header},
        {"ICMP header cut short", Pkt::raw_ip("10.0.0.2", "10.0.0.3", 1).payload(Bytes{8, 0, 0, 0, 0, 1, 0}).bytes(),
         PacketKind::Malformed, Defect::Truncated},
        {"ICMP-3(i): bad ICMP checksum",
         Pkt::icmp_error("198.51.100.9", "198.51.100.254", 3, 3, quoted_udp).bad_l4_checksum().bytes(),
         PacketKind::Malformed, Defect::BadIcmpChecksum},
        {"quoted packet is not IPv4", error_quoting(edited(quoted_udp, [](Bytes& b) { b[0] = 0x65; })),
         PacketKind::Malformed, Defect::BadInnerHeader},
        {"quoted IHL 4", error_quoting(edited(quoted_udp, [](Bytes& b) { b[0] = 0x44; }), 28),
         PacketKind::Malformed, Defect::BadInnerHeader},
        {"quoted IP header cut short", error_quoting(quoted_udp, 19), PacketKind::Malformed,
         Defect::BadInnerHeader},
        {"quoted IP options cut short",
         error_quoting(Pkt::udp("198.51.100.254:1", "198.51.100.1:2").ip_options(options).bytes(), 24),
         PacketKind::Malformed, Defect::BadInnerHeader},
        {"quoted transport header below 8 bytes", error_quoting(quoted_udp, 27), PacketKind::Malformed,
         Defect::BadInnerHeader},
        {"ICMP-3a: bad quoted IP checksum",
         error_quoting(Pkt::udp("198.51.100.254:1", "198.51.100.1:2").bad_ip_checksum().bytes()),
         PacketKind::Malformed, Defect::BadInnerChecksum},
    };
}

PacketView parse(const Bytes& pkt) { return parse_ipv4(pkt); }

} // namespace

TEST_SUITE("parse") {

TEST_CASE("classification table: kinds, defects and endpoints") {
    for (const Case& c : cases()) {
        SUBCASE(c.description) {
            INFO(hex(c.bytes));
            const PacketView v = parse(c.bytes);
            CHECK(v.kind == c.kind);
            CHECK(v.defect == c.defect);
            if (c.src)
                CHECK(v.src == *c.src);
            if (c.dst)
                CHECK(v.dst == *c.dst);
        }
    }
}

TEST_CASE("IP header fields") {
    const Bytes pkt = Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").ttl(9).df().payload("abc").bytes();
    const PacketView v = parse(pkt);
    CHECK(v.proto == 17);
    CHECK(v.ip_hlen == 20);
    CHECK(v.l4_off == 20);
    CHECK(v.ttl == 9);
    CHECK(v.dont_fragment);
    CHECK_FALSE(v.more_fragments);
    CHECK(v.ip_len == 31);
}

TEST_CASE("ICMP-3b: IP options are stepped over, outside and inside an ICMP error") {
    const Bytes inner = Pkt::udp("198.51.100.254:20000", "198.51.100.1:53").ip_options(options).bytes();
    SUBCASE("outer") {
        const PacketView v = parse(inner);
        CHECK(v.ip_hlen == 28);
        CHECK(v.l4_off == 28);
        CHECK(v.src == ep("198.51.100.254:20000"));
    }
    SUBCASE("quoted") {
        const PacketView v = parse(Pkt::icmp_error("198.51.100.9", "198.51.100.254", 11, 0, inner).ip_options(options).bytes());
        REQUIRE(v.kind == PacketKind::IcmpError);
        CHECK(v.l4_off == 28);
        CHECK(v.inner.ip_off == 36);
        CHECK(v.inner.ip_hlen == 28);
        CHECK(v.inner.l4_off == 64);
        CHECK(v.inner.l4_len == 8);
        CHECK(v.inner.src == ep("198.51.100.254:20000"));
        CHECK(v.inner.dst == ep("198.51.100.1:53"));
    }
}

TEST_CASE("TCP flags") {
    const PacketView v = parse(Pkt::tcp("10.0.0.2:1", "10.0.0.3:2", tcp_flag::Syn | tcp_flag::Ack).bytes());
    CHECK(v.kind == PacketKind::Tcp);
    CHECK(v.tcp_flags == (tcp_flag::Syn | tcp_flag::Ack));
}

TEST_CASE("ICMP error fields for each quoted protocol") {
    SUBCASE("UDP, quoted total length larger than the quote") {
        const PacketView v = parse(error_quoting(quoted_udp));
        REQUIRE(v.kind == PacketKind::IcmpError);
        CHECK(v.icmp_type == 3);
        CHECK(v.icmp_code == 3);
        CHECK(v.src.port == 0);
        CHECK(v.inner.proto == 17);
        CHECK(v.inner.ip_off == 28);
        CHECK(v.inner.ip_hlen == 20);
        CHECK(v.inner.l4_off == 48);
        CHECK(v.inner.l4_len == 8);
        CHECK(v.inner.src == ep("198.51.100.254:20000"));
        CHECK(v.inner.dst == ep("198.51.100.1:3478"));
    }
    SUBCASE("TCP quoted with 8 bytes") {
        const PacketView v = parse(error_quoting(Pkt::tcp("198.51.100.254:20000", "198.51.100.1:80", 0).bytes()));
        REQUIRE(v.kind == PacketKind::IcmpError);
        CHECK(v.inner.proto == 6);
        CHECK(v.inner.l4_len == 8);
        CHECK(v.inner.dst == ep("198.51.100.1:80"));
    }
    SUBCASE("echo request, quoted whole") {
        const Bytes echo = Pkt::icmp_echo("198.51.100.254", "198.51.100.1", 0x4242).payload("abcd").bytes();
        const PacketView v = parse(error_quoting(echo, echo.size()));
        REQUIRE(v.kind == PacketKind::IcmpError);
        CHECK(v.inner.proto == 1);
        CHECK(v.inner.icmp_type == 8);
        CHECK(v.inner.l4_len == 12);
        CHECK(v.inner.src == ep("198.51.100.254:16962"));
        CHECK(v.inner.dst == ep("198.51.100.1:16962"));
    }
    SUBCASE("time exceeded and parameter problem") {
        for (std::uint8_t type : {11, 12})
            CHECK(parse(Pkt::icmp_error("198.51.100.9", "198.51.100.254", type, 0, quoted_udp).bytes()).kind ==
                  PacketKind::IcmpError);
    }
}

TEST_CASE("fragments") {
    SUBCASE("first fragment parses L4 and says so") {
        const PacketView v = parse(Pkt::tcp("10.0.0.2:1", "10.0.0.3:2", 0).mf().bytes());
        CHECK(v.kind == PacketKind::Tcp);
        CHECK(v.more_fragments);
    }
    SUBCASE("last fragment (offset, no MF)") {
        const PacketView v = parse(Pkt::udp("10.0.0.2:1", "10.0.0.3:2").frag_offset(185).bytes());
        CHECK(v.kind == PacketKind::Fragment);
        CHECK_FALSE(v.more_fragments);
        CHECK(v.src.addr == conenat::test::ip("10.0.0.2"));
    }
    SUBCASE("first fragment of an ICMP error: the checksum covers bytes not here, so it is not judged") {
        const PacketView v =
            parse(Pkt::icmp_error("198.51.100.9", "198.51.100.254", 3, 3, quoted_udp).mf().bad_l4_checksum().bytes());
        CHECK(v.kind == PacketKind::IcmpError);
        CHECK(v.more_fragments);
    }
}

TEST_CASE("truncation at every length is Malformed and reads only the span") {
    const std::vector<Bytes> packets = {
        udp_pkt, tcp_pkt, echo_pkt, error_quoting(quoted_udp), error_quoting(quoted_udp, quoted_udp.size()),
        Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").ip_options(options).bytes(),
        Pkt::icmp_error("198.51.100.9", "198.51.100.254", 3, 3,
                        Pkt::tcp("198.51.100.254:1", "198.51.100.1:2", 0).ip_options(options).bytes())
            .ip_options(options).bytes(),
    };
    for (const Bytes& pkt : packets) {
        CAPTURE(hex(pkt));
        for (std::size_t n = 0; n < pkt.size(); ++n) {
            const Bytes cut = first(pkt, n); // exact-size heap copy: ASan sees any over-read
            CAPTURE(n);
            CHECK(parse(cut).kind == PacketKind::Malformed);
        }
    }
}

TEST_CASE("truncation with a consistent total length stays inside the packet") {
    const std::vector<Bytes> packets = {udp_pkt, tcp_pkt, echo_pkt, error_quoting(quoted_udp, quoted_udp.size())};
    for (const Bytes& pkt : packets) {
        for (std::size_t n = 20; n < pkt.size(); ++n) {
            const Bytes cut = edited(first(pkt, n), [n](Bytes& b) { store16(&b[2], std::uint16_t(n)); });
            const PacketView v = parse(cut);
            CAPTURE(hex(cut));
            if (v.kind == PacketKind::Udp || v.kind == PacketKind::IcmpQuery)
                CHECK(v.l4_off + 8u <= n);
            if (v.kind == PacketKind::Tcp)
                CHECK(v.l4_off + 20u <= n);
            if (v.kind == PacketKind::IcmpError)
                CHECK(v.inner.l4_off + v.inner.l4_len <= n);
        }
    }
}

} // TEST_SUITE
