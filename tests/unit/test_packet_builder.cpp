#include "tests/support/packet_builder.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace conenat::test;

TEST_SUITE("packet_builder") {

TEST_CASE("endpoint and address text") {
    CHECK(ep("10.0.0.2:5000") == conenat::core::Endpoint{0x0a000002, 5000});
    CHECK(ip("198.51.100.254") == 0xc63364fe);
    for (const char* bad : {"10.0.0.2", "10.0.0.2:", "10.0.0.2:65536", "10.0.0:1", "10.0.0.256:1", "x:1",
                            "10.0.0.2:5000x", "1.2.3.4.5:1"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(ep(bad), std::invalid_argument);
    }
    CHECK_THROWS_AS(ip("1.2.3"), std::invalid_argument);
}

TEST_CASE("hex") { CHECK(hex(Bytes{0x45, 0x00, 0x0a}) == "45 00 0a"); }

TEST_CASE("a built packet has the documented layout") {
    const Bytes p = Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").payload("ab").ttl(7).tos(0x10).df().bytes();
    REQUIRE(p.size() == 30);
    CHECK(p[0] == 0x45);
    CHECK(p[1] == 0x10);
    CHECK(p[3] == 30);
    CHECK(p[4] == 0x12);
    CHECK(p[5] == 0x34);
    CHECK(p[6] == 0x40);
    CHECK(p[8] == 7);
    CHECK(p[9] == 17);
    CHECK(checksum_errors(p) == "");
}

TEST_CASE("checksum_errors finds every injected fault") {
    const Bytes quoted = Pkt::udp("198.51.100.254:1", "198.51.100.1:2").payload("q").bytes();
    CHECK(checksum_errors(Pkt::udp("1.1.1.1:1", "2.2.2.2:2").bad_ip_checksum().bytes()) != "");
    CHECK(checksum_errors(Pkt::udp("1.1.1.1:1", "2.2.2.2:2").bad_l4_checksum().bytes()) != "");
    CHECK(checksum_errors(Pkt::udp("1.1.1.1:1", "2.2.2.2:2").udp_checksum(0x1234).bytes()) != "");
    CHECK(checksum_errors(Pkt::udp("1.1.1.1:1", "2.2.2.2:2").udp_checksum_zero().bytes()) == "");
    CHECK(checksum_errors(Pkt::tcp("1.1.1.1:1", "2.2.2.2:2", 0).bad_l4_checksum().bytes()) != "");
    CHECK(checksum_errors(Pkt::icmp_echo("1.1.1.1", "2.2.2.2", 1).bad_l4_checksum().bytes()) != "");
    CHECK(checksum_errors(Pkt::icmp_error("1.1.1.1", "2.2.2.2", 3, 3, quoted).bad_l4_checksum().bytes()) != "");
    const Bytes bad_inner = Pkt::udp("198.51.100.254:1", "198.51.100.1:2").payload("q").bad_l4_checksum().bytes();
    CHECK(checksum_errors(Pkt::icmp_error("1.1.1.1", "2.2.2.2", 3, 3, bad_inner, bad_inner.size()).bytes()) != "");
    // Quoted partly, the quoted UDP checksum cannot be judged.
    CHECK(checksum_errors(Pkt::icmp_error("1.1.1.1", "2.2.2.2", 3, 3, bad_inner, 28).bytes()) == "");
    const Bytes bad_inner_ip = Pkt::udp("198.51.100.254:1", "198.51.100.1:2").bad_ip_checksum().bytes();
    CHECK(checksum_errors(Pkt::icmp_error("1.1.1.1", "2.2.2.2", 3, 3, bad_inner_ip).bytes()) != "");
    CHECK(checksum_errors(Bytes{0x45, 0}) != "");
}

} // TEST_SUITE
