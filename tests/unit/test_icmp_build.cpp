#include "conenat/core/packet/checksum.hpp"
#include "conenat/core/packet/icmp_build.hpp"
#include "conenat/core/packet/parse.hpp"
#include "tests/support/packet_builder.hpp"

#include <doctest/doctest.h>

#include <array>

using namespace conenat::core;
using conenat::test::Bytes;
using conenat::test::Pkt;
using conenat::test::checksum_errors;
using conenat::test::ep;
using conenat::test::hex;
using conenat::test::ip;

namespace {

const Ipv4 nat_lan = make_ipv4(10, 0, 0, 1);

// Builds an error about `orig` into a 1500-byte buffer; returns the bytes written.
Bytes error_about(const Bytes& orig, std::uint8_t type, std::uint8_t code, std::uint16_t mtu = 0) {
    std::array<std::uint8_t, 1500> out{};
    const std::size_t n = build_icmp_error(orig, parse_ipv4(orig), out, type, code, nat_lan, mtu);
    return Bytes(out.begin(), out.begin() + std::ptrdiff_t(n));
}

} // namespace

TEST_SUITE("icmp_build") {

TEST_CASE("ICMP-8: 3/13 about a UDP datagram") {
    const Bytes orig = Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").tos(0xb8).df().ttl(5).payload("query").bytes();
    const Bytes err = error_about(orig, icmp::DestUnreachable, icmp::CodeAdminProhibited);
    REQUIRE(err.size() == 28 + orig.size());
    INFO(hex(err));
    CHECK(checksum_errors(err) == "");
    // The whole offending datagram fits, so this is exactly what the builder makes.
    CHECK(err == Pkt::icmp_error("10.0.0.1", "10.0.0.2", 3, 13, orig, orig.size()).tos(0xb8).ip_id(0).bytes());

    const PacketView v = parse_ipv4(err);
    REQUIRE(v.kind == PacketKind::IcmpError);
    CHECK(v.icmp_type == 3);
    CHECK(v.icmp_code == 13);
    CHECK(v.ttl == 64);
    CHECK_FALSE(v.dont_fragment);
    CHECK(err[1] == 0xb8); // ICMP-10d: DS field copied
    CHECK(load16(&err[4]) == 0);
    CHECK(v.src.addr == nat_lan);
    CHECK(v.dst.addr == ip("10.0.0.2"));
    CHECK(v.inner.src == ep("10.0.0.2:5000"));
    CHECK(v.inner.dst == ep("198.51.100.1:53"));
    CHECK(load32(&err[24]) == 0); // unused word
}

TEST_CASE("CGN-11: 3/1 about a TCP SYN") {
    const Bytes orig = Pkt::tcp("10.0.0.2:40000", "198.51.100.1:80", tcp_flag::Syn).bytes();
    const Bytes err = error_about(orig, icmp::DestUnreachable, icmp::CodeHostUnreachable);
    REQUIRE(err.size() == 68);
    CHECK(checksum_errors(err) == "");
    const PacketView v = parse_ipv4(err);
    CHECK(v.kind == PacketKind::IcmpError);
    CHECK(v.icmp_code == 1);
    CHECK(v.inner.src == ep("10.0.0.2:40000"));
}

TEST_CASE("ICMP-10a: 3/4 carries the next-hop MTU") {
    const Bytes orig = Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").df().payload(Bytes(1472, 0x5a)).bytes();
    const Bytes err = error_about(orig, icmp::DestUnreachable, icmp::CodeFragNeeded, 1400);
    REQUIRE(err.size() == 576);
    CHECK(load16(&err[24]) == 0);
    CHECK(load16(&err[26]) == 1400);
    CHECK(checksum_errors(err) == "");
    SUBCASE("the MTU is ignored for other codes") {
        const Bytes other = error_about(orig, icmp::DestUnreachable, icmp::CodePortUnreachable, 1400);
        CHECK(load16(&other[26]) == 0);
    }
}

TEST_CASE("11/0 about an echo request") {
    const Bytes orig = Pkt::icmp_echo("10.0.0.2", "198.51.100.1", 0x1234).ttl(1).payload("ping").bytes();
    const Bytes err = error_about(orig, icmp::TimeExceeded, 0);
    const PacketView v = parse_ipv4(err);
    CHECK(v.kind == PacketKind::IcmpError);
    CHECK(v.inner.src.port == 0x1234);
    CHECK(checksum_errors(err) == "");
}

TEST_CASE("RFC 1812 §4.3.2.3: the quote is capped at 576 bytes in all and never passes ip_len") {
    SUBCASE("large datagram: 576 bytes, quote is its first 548") {
        const Bytes orig = Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").payload(Bytes(1000, 0x33)).bytes();
        const Bytes err = error_about(orig, 3, 13);
        REQUIRE(err.size() == 576);
        CHECK(Bytes(err.begin() + 28, err.end()) == Bytes(orig.begin(), orig.begin() + 548));
        CHECK(checksum_errors(err) == "");
    }
    SUBCASE("exactly 548 bytes fits whole") {
        const Bytes orig = Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").payload(Bytes(520, 1)).bytes();
        CHECK(error_about(orig, 3, 13).size() == 576);
    }
    SUBCASE("bytes past ip_len are not quoted") {
        Bytes orig = Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").payload("abc").bytes();
        const std::size_t ip_len = orig.size();
        orig.resize(ip_len + 30, 0xee);
        CHECK(error_about(orig, 3, 13).size() == 28 + ip_len);
    }
    SUBCASE("quoted IP options are kept") {
        const Bytes orig = Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").ip_options({0x94, 4, 0, 0}).bytes();
        const PacketView v = parse_ipv4(error_about(orig, 3, 13));
        CHECK(v.kind == PacketKind::IcmpError);
        CHECK(v.inner.ip_hlen == 24);
    }
}

TEST_CASE("ICMP-10e: RFC 1812 §4.3.2.7 refusals") {
    const auto udp_from = [](const char* src) { return Pkt::udp(src, "198.51.100.1:53").bytes(); };
    const Bytes quoted = Pkt::udp("198.51.100.254:1", "198.51.100.1:53").bytes();
    SUBCASE("malformed") { CHECK(error_about(Pkt::udp("10.0.0.2:1", "10.0.0.3:2").bad_ip_checksum().bytes(), 3, 13).empty()); }
    SUBCASE("an ICMP error") {
        CHECK(error_about(Pkt::icmp_error("10.0.0.2", "198.51.100.1", 3, 3, quoted).bytes(), 3, 13).empty());
    }
    SUBCASE("an ICMP error quoting a protocol we do not translate (kind Other)") {
        const Bytes gre = Pkt::raw_ip("198.51.100.254", "198.51.100.1", 47).payload("12345678").bytes();
        const Bytes err = Pkt::icmp_error("10.0.0.2", "198.51.100.1", 3, 3, gre).bytes();
        REQUIRE(parse_ipv4(err).kind == PacketKind::Other);
        CHECK(error_about(err, 3, 13).empty());
    }
    SUBCASE("a redirect") {
        const Bytes redirect = Pkt::icmp_error("10.0.0.2", "198.51.100.1", 5, 1, quoted).bytes();
        CHECK(error_about(redirect, 3, 13).empty());
    }
    SUBCASE("a non-first fragment") {
        CHECK(error_about(Pkt::udp("10.0.0.2:1", "198.51.100.1:2").frag_offset(5).bytes(), 3, 13).empty());
    }
    SUBCASE("sources that are not one host") {
        for (const char* src : {"0.0.0.0:1", "127.0.0.1:1", "127.1.2.3:1", "224.0.0.1:1", "239.1.1.1:1",
                                "255.255.255.255:1", "240.0.0.1:1"}) {
            CAPTURE(src);
            CHECK(error_about(udp_from(src), 3, 13).empty());
        }
    }
    SUBCASE("a packet to multicast or broadcast") {
        CHECK(error_about(Pkt::udp("10.0.0.2:1", "224.0.0.251:5353").bytes(), 3, 13).empty());
        CHECK(error_about(Pkt::udp("10.0.0.2:1", "255.255.255.255:67").bytes(), 3, 13).empty());
    }
    SUBCASE("output buffer too small") {
        const Bytes orig = udp_from("10.0.0.2:1");
        std::array<std::uint8_t, 64> out{};
        CHECK(build_icmp_error(orig, parse_ipv4(orig), std::span(out).first(28 + orig.size() - 1), 3, 13, nat_lan) ==
              0);
        CHECK(build_icmp_error(orig, parse_ipv4(orig), out, 3, 13, nat_lan) == 28 + orig.size());
    }
    SUBCASE("a first fragment is fine") {
        CHECK_FALSE(error_about(Pkt::udp("10.0.0.2:1", "198.51.100.1:2").mf().bytes(), 3, 13).empty());
    }
}

} // TEST_SUITE
