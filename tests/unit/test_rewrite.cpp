#include "conenat/core/packet/checksum.hpp"
#include "conenat/core/packet/parse.hpp"
#include "conenat/core/packet/rewrite.hpp"
#include "tests/support/packet_builder.hpp"

#include <doctest/doctest.h>

using namespace conenat::core;
using conenat::test::Bytes;
using conenat::test::Pkt;
using conenat::test::checksum_errors;
using conenat::test::ep;
using conenat::test::hex;
using conenat::test::ip;

namespace {

// Parses `pkt`, applies `rewrite`, and checks the result equals `expected` and verifies.
template <typename Rewrite>
PacketView check_rewrite(Bytes pkt, const Bytes& expected, Rewrite rewrite) {
    PacketView view = parse_ipv4(pkt);
    REQUIRE(view.kind != PacketKind::Malformed);
    rewrite(pkt, view);
    INFO("got  ", hex(pkt), "\nwant ", hex(expected));
    CHECK(pkt == expected);
    CHECK(checksum_errors(pkt) == "");
    return view;
}

std::uint16_t udp_check(const Bytes& pkt) { return load16(&pkt[std::size_t(pkt[0] & 0x0f) * 4 + 6]); }

const Bytes options = {0x94, 0x04, 0x00, 0x00};

} // namespace

TEST_SUITE("rewrite") {

TEST_CASE("UDP source and destination rewrites") {
    const auto out = Pkt::udp("10.0.0.2:5000", "198.51.100.1:3478").payload("hello").bytes();
    SUBCASE("source (outbound)") {
        const auto v = check_rewrite(out, Pkt::udp("198.51.100.254:20000", "198.51.100.1:3478").payload("hello").bytes(),
                                     [](auto& buf, auto& pv) { rewrite_source(buf, pv, ep("198.51.100.254:20000")); });
        CHECK(v.src == ep("198.51.100.254:20000"));
    }
    SUBCASE("destination (inbound)") {
        const auto in = Pkt::udp("198.51.100.1:3478", "198.51.100.254:20000").payload("hello").bytes();
        const auto v = check_rewrite(in, Pkt::udp("198.51.100.1:3478", "10.0.0.2:5000").payload("hello").bytes(),
                                     [](auto& buf, auto& pv) { rewrite_destination(buf, pv, ep("10.0.0.2:5000")); });
        CHECK(v.dst == ep("10.0.0.2:5000"));
    }
    SUBCASE("behind IP options, TTL and TOS untouched") {
        check_rewrite(Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").ip_options(options).ttl(3).tos(0xb8).bytes(),
                      Pkt::udp("198.51.100.254:5000", "198.51.100.1:53").ip_options(options).ttl(3).tos(0xb8).bytes(),
                      [](auto& buf, auto& pv) { rewrite_source(buf, pv, ep("198.51.100.254:5000")); });
    }
    SUBCASE("first fragment still gets its UDP checksum updated") {
        check_rewrite(Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").payload("part").mf().bytes(),
                      Pkt::udp("198.51.100.254:1024", "198.51.100.1:53").payload("part").mf().bytes(),
                      [](auto& buf, auto& pv) { rewrite_source(buf, pv, ep("198.51.100.254:1024")); });
    }
}

TEST_CASE("CSUM-2: UDP checksum 0 means none and stays 0") {
    const auto pkt = Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").payload("x").udp_checksum_zero().bytes();
    const auto want = Pkt::udp("198.51.100.254:1", "198.51.100.1:53").payload("x").udp_checksum_zero().bytes();
    check_rewrite(pkt, want, [](auto& buf, auto& pv) { rewrite_source(buf, pv, ep("198.51.100.254:1")); });
    Bytes copy = pkt;
    PacketView v = parse_ipv4(copy);
    rewrite_destination_addr(copy, v, ip("192.0.2.1"));
    CHECK(udp_check(copy) == 0);
}

TEST_CASE("CSUM-2: a rewritten UDP checksum of 0x0000 is sent as 0xFFFF and verifies") {
    const auto to = ep("198.51.100.254:20000");
    // Choose two payload bytes so that the datagram's checksum after translation is +0:
    // with payload 0 the checksum C is ~sum, so adding the word C makes the sum -0.
    const auto zeros = Pkt::udp("198.51.100.254:20000", "198.51.100.1:53").payload(Bytes{0, 0}).bytes();
    const std::uint16_t c = udp_check(zeros);
    const Bytes payload{std::uint8_t(c >> 8), std::uint8_t(c)};
    const auto want = Pkt::udp("198.51.100.254:20000", "198.51.100.1:53").payload(payload).bytes();
    REQUIRE(udp_check(want) == 0xffff);

    Bytes pkt = Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").payload(payload).bytes();
    REQUIRE(udp_check(pkt) != 0xffff);
    PacketView v = parse_ipv4(pkt);
    rewrite_source(pkt, v, to);
    CHECK(udp_check(pkt) == 0xffff);
    CHECK(pkt == want);
    CHECK(checksum_errors(pkt) == "");
}

TEST_CASE("TCP rewrites fix the pseudo-header and port in the checksum") {
    const auto syn = [](const char* s, const char* d) {
        return Pkt::tcp(s, d, tcp_flag::Syn).seq(0x01020304).window(29200).payload("GET").bytes();
    };
    check_rewrite(syn("10.0.0.2:40000", "198.51.100.1:80"), syn("198.51.100.254:40000", "198.51.100.1:80"),
                  [](auto& buf, auto& pv) { rewrite_source(buf, pv, ep("198.51.100.254:40000")); });
    check_rewrite(syn("198.51.100.1:80", "198.51.100.254:1025"), syn("198.51.100.1:80", "10.0.0.2:40000"),
                  [](auto& buf, auto& pv) { rewrite_destination(buf, pv, ep("10.0.0.2:40000")); });
}

TEST_CASE("ICMP query: the identifier changes, and the checksum with it (no pseudo-header)") {
    const auto echo = [](const char* s, const char* d, std::uint16_t id, bool reply) {
        return Pkt::icmp_echo(s, d, id, reply).seq(3).payload("abcdefgh").bytes();
    };
    SUBCASE("request out") {
        const auto v = check_rewrite(echo("10.0.0.2", "198.51.100.1", 0x1234, false),
                                     echo("198.51.100.254", "198.51.100.1", 0x8000, false),
                                     [](auto& buf, auto& pv) { rewrite_source(buf, pv, ep("198.51.100.254:32768")); });
        CHECK(v.src.port == 0x8000);
        CHECK(v.dst.port == 0x8000);
    }
    SUBCASE("reply in") {
        const auto v = check_rewrite(echo("198.51.100.1", "198.51.100.254", 0x8000, true),
                                     echo("198.51.100.1", "10.0.0.2", 0x1234, true),
                                     [](auto& buf, auto& pv) { rewrite_destination(buf, pv, ep("10.0.0.2:4660")); });
        CHECK(v.src.port == 0x1234);
    }
    SUBCASE("RFC 1624 §3: an all-zero echo reply needs the checksum -0 (0xFFFF)") {
        check_rewrite(Pkt::icmp_echo("198.51.100.1", "198.51.100.254", 0x8000, true).bytes(),
                      Pkt::icmp_echo("198.51.100.1", "10.0.0.2", 0, true).bytes(),
                      [](auto& buf, auto& pv) { rewrite_destination(buf, pv, ep("10.0.0.2:0")); });
    }
}

TEST_CASE("address-only rewrites") {
    SUBCASE("UDP: pseudo-header updated, port kept") {
        check_rewrite(Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").bytes(),
                      Pkt::udp("198.51.100.254:5000", "198.51.100.1:53").bytes(),
                      [](auto& buf, auto& pv) { rewrite_source_addr(buf, pv, ip("198.51.100.254")); });
    }
    SUBCASE("TCP destination") {
        check_rewrite(Pkt::tcp("198.51.100.1:80", "198.51.100.254:1", tcp_flag::Ack).bytes(),
                      Pkt::tcp("198.51.100.1:80", "10.0.0.2:1", tcp_flag::Ack).bytes(),
                      [](auto& buf, auto& pv) { rewrite_destination_addr(buf, pv, ip("10.0.0.2")); });
    }
    SUBCASE("ICMP error (outer address of the recipe, step 4)") {
        const auto quoted = Pkt::udp("198.51.100.254:20000", "198.51.100.1:53").bytes();
        check_rewrite(Pkt::icmp_error("198.51.100.9", "198.51.100.254", 3, 3, quoted).bytes(),
                      Pkt::icmp_error("198.51.100.9", "10.0.0.2", 3, 3, quoted).bytes(),
                      [](auto& buf, auto& pv) { rewrite_destination_addr(buf, pv, ip("10.0.0.2")); });
    }
    SUBCASE("non-first fragment and GRE: IP header only") {
        Bytes frag = Pkt::udp("10.0.0.2:1", "198.51.100.1:2").payload("data").frag_offset(2).bytes();
        const Bytes l4_before(frag.begin() + 20, frag.end());
        PacketView v = parse_ipv4(frag);
        rewrite_source_addr(frag, v, ip("198.51.100.254"));
        CHECK(Bytes(frag.begin() + 20, frag.end()) == l4_before);
        CHECK(v.src.addr == ip("198.51.100.254"));
        CHECK(checksum_errors(frag) == "");
        check_rewrite(Pkt::raw_ip("10.0.0.2", "198.51.100.1", 47).payload("gre!").bytes(),
                      Pkt::raw_ip("198.51.100.254", "198.51.100.1", 47).payload("gre!").bytes(),
                      [](auto& buf, auto& pv) { rewrite_source_addr(buf, pv, ip("198.51.100.254")); });
    }
}

TEST_CASE("rewrites leave Malformed and untranslatable kinds alone") {
    const Bytes bad = Pkt::udp("10.0.0.2:1", "198.51.100.1:2").bad_ip_checksum().bytes();
    Bytes pkt = bad;
    PacketView v = parse_ipv4(pkt);
    rewrite_source(pkt, v, ep("1.2.3.4:5"));
    rewrite_source_addr(pkt, v, ip("1.2.3.4"));
    rewrite_inner_source(pkt, v, ep("1.2.3.4:5"));
    CHECK(pkt == bad);
    const Bytes gre = Pkt::raw_ip("10.0.0.2", "198.51.100.1", 47).bytes();
    pkt = gre;
    v = parse_ipv4(pkt);
    rewrite_source(pkt, v, ep("1.2.3.4:5"));
    CHECK(pkt == gre);
}

TEST_CASE("CSUM-3 / ICMP-4: inner rewrites of ICMP errors") {
    const auto error = [](const char* dst, const Bytes& quoted, std::size_t quote_len = 0) {
        return Pkt::icmp_error("198.51.100.9", dst, 3, 3, quoted, quote_len).bytes();
    };
    const auto to = ep("10.0.0.2:5000");
    const auto inner_src = [to](auto& buf, auto& pv) { rewrite_inner_source(buf, pv, to); };

    SUBCASE("UDP quoted whole: quoted checksum updated with its pseudo-header") {
        const auto q = [](const char* s) { return Pkt::udp(s, "198.51.100.1:3478").payload("stun").bytes(); };
        const Bytes before = q("198.51.100.254:20000"), after = q("10.0.0.2:5000");
        const auto v = check_rewrite(error("198.51.100.254", before, before.size()),
                                     error("198.51.100.254", after, after.size()), inner_src);
        CHECK(v.inner.src == to);
        CHECK(v.inner.dst == ep("198.51.100.1:3478"));
    }
    SUBCASE("UDP quoted with 8 bytes: checksum field is quoted and updated") {
        const auto q = [](const char* s) { return Pkt::udp(s, "198.51.100.1:3478").payload("stun").bytes(); };
        check_rewrite(error("198.51.100.254", q("198.51.100.254:20000")), error("198.51.100.254", q("10.0.0.2:5000")),
                      inner_src);
    }
    SUBCASE("UDP quoted without checksum: 0 stays 0") {
        const auto q = [](const char* s) { return Pkt::udp(s, "198.51.100.1:53").udp_checksum_zero().bytes(); };
        check_rewrite(error("198.51.100.254", q("198.51.100.254:20000")), error("198.51.100.254", q("10.0.0.2:5000")),
                      inner_src);
    }
    SUBCASE("TCP quoted with 8 bytes: checksum not quoted, ports still rewritten") {
        const auto q = [](const char* s) { return Pkt::tcp(s, "198.51.100.1:80", tcp_flag::Syn).seq(77).bytes(); };
        check_rewrite(error("198.51.100.254", q("198.51.100.254:20000")), error("198.51.100.254", q("10.0.0.2:5000")),
                      inner_src);
    }
    SUBCASE("TCP quoted whole: checksum updated") {
        const auto q = [](const char* s) { return Pkt::tcp(s, "198.51.100.1:80", tcp_flag::Syn).seq(77).bytes(); };
        check_rewrite(error("198.51.100.254", q("198.51.100.254:20000"), 40),
                      error("198.51.100.254", q("10.0.0.2:5000"), 40), inner_src);
    }
    SUBCASE("ICMP echo quoted: identifier and the quoted ICMP checksum") {
        const auto q = [](const char* s, std::uint16_t id) {
            return Pkt::icmp_echo(s, "198.51.100.1", id).payload("ping").bytes();
        };
        const auto v = check_rewrite(error("198.51.100.254", q("198.51.100.254", 0x8000), 32),
                                     error("198.51.100.254", q("10.0.0.2", 0x1234), 32),
                                     [](auto& buf, auto& pv) { rewrite_inner_source(buf, pv, ep("10.0.0.2:4660")); });
        CHECK(v.inner.src.port == 0x1234);
        CHECK(v.inner.dst.port == 0x1234);
    }
    SUBCASE("quoted IP options") {
        const auto q = [](const char* s) {
            return Pkt::udp(s, "198.51.100.1:3478").ip_options({0x94, 0x04, 0, 0, 1, 1, 1, 0}).bytes();
        };
        check_rewrite(error("198.51.100.254", q("198.51.100.254:20000")), error("198.51.100.254", q("10.0.0.2:5000")),
                      inner_src);
    }
    SUBCASE("ICMP-5: error from inside, quoted destination restored to the external form") {
        const auto q = [](const char* d) { return Pkt::udp("198.51.100.1:3478", d).payload("x").bytes(); };
        check_rewrite(error("198.51.100.1", q("10.0.0.2:5000")), error("198.51.100.1", q("198.51.100.254:20000")),
                      [](auto& buf, auto& pv) { rewrite_inner_destination(buf, pv, ep("198.51.100.254:20000")); });
    }
    SUBCASE("the whole inbound recipe: quoted source and outer destination") {
        const auto q = [](const char* s) { return Pkt::udp(s, "198.51.100.1:3478").payload("stun").bytes(); };
        const Bytes before = q("198.51.100.254:20000"), after = q("10.0.0.2:5000");
        const auto v = check_rewrite(error("198.51.100.254", before, before.size()),
                                     error("10.0.0.2", after, after.size()), [to](auto& buf, auto& pv) {
                                         rewrite_inner_source(buf, pv, to);
                                         rewrite_destination_addr(buf, pv, to.addr);
                                     });
        CHECK(v.dst.addr == to.addr);
        CHECK(parse_ipv4(Bytes(error("10.0.0.2", after, after.size()))).inner.src == to);
    }
}

} // TEST_SUITE
