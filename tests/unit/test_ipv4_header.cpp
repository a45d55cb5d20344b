// The IPv4 header edits of ipv4_header.hpp: hops taken and given back with the header
// checksum kept right, fragment tests, and the datagram hash fragments are steered by.
#include "conenat/core/packet/ipv4_header.hpp"

#include "conenat/core/packet/parse.hpp"
#include "tests/support/packet_builder.hpp"

#include <doctest/doctest.h>

using namespace conenat;
using namespace conenat::test;

TEST_SUITE("ipv4 header") {

TEST_CASE("RFC 1812 §5.3.1: a hop taken lowers the TTL by one, the header checksum still right") {
    Bytes p = Pkt::udp("10.0.0.2:5000", "203.0.113.5:53").ttl(64).bytes();
    REQUIRE(core::take_hop(p));
    CHECK(p[8] == 63);
    CHECK(checksum_errors(p).empty());
    core::give_back_hop(p);
    CHECK(p == Pkt::udp("10.0.0.2:5000", "203.0.113.5:53").ttl(64).bytes());
}

TEST_CASE("a packet with TTL 1 or 0 has expired: nothing changes") {
    for (std::uint8_t ttl : {0, 1}) {
        const Bytes before = Pkt::udp("10.0.0.2:5000", "203.0.113.5:53").ttl(ttl).bytes();
        Bytes p = before;
        CHECK_FALSE(core::take_hop(p));
        CHECK(p == before);
    }
    Bytes short_packet(10, 0x45);
    CHECK_FALSE(core::take_hop(short_packet));
}

TEST_CASE("a hop given back stops at TTL 255") {
    const Bytes before = Pkt::udp("10.0.0.2:5000", "203.0.113.5:53").ttl(255).bytes();
    Bytes p = before;
    core::give_back_hop(p);
    CHECK(p == before);
    Bytes q = Pkt::tcp("10.0.0.2:5000", "203.0.113.5:80", 0x02).ttl(254).bytes();
    core::give_back_hop(q);
    CHECK(q[8] == 255);
    CHECK(checksum_errors(q).empty());
}

TEST_CASE("fragments: MF or an offset; not a whole datagram, not a short buffer, not IPv6") {
    CHECK(core::is_fragment(Pkt::udp("10.0.0.2:5000", "203.0.113.5:53").mf().bytes()));
    CHECK(core::is_fragment(Pkt::raw_ip("10.0.0.2", "203.0.113.5", 17).frag_offset(3).bytes()));
    CHECK_FALSE(core::is_fragment(Pkt::udp("10.0.0.2:5000", "203.0.113.5:53").df().bytes()));
    Bytes v6 = Pkt::udp("10.0.0.2:5000", "203.0.113.5:53").mf().bytes();
    v6[0] = 0x65;
    CHECK_FALSE(core::is_fragment(v6));
    CHECK_FALSE(core::is_fragment(Bytes{0x45, 0, 0}));
}

TEST_CASE("RFC 791: every fragment of a datagram hashes alike; another identification differs") {
    const Bytes first = Pkt::udp("203.0.113.5:53", "198.51.100.254:40000").ip_id(7).mf().bytes();
    const Bytes later = Pkt::raw_ip("203.0.113.5", "198.51.100.254", 17).ip_id(7).frag_offset(2).bytes();
    const Bytes other = Pkt::raw_ip("203.0.113.5", "198.51.100.254", 17).ip_id(8).frag_offset(2).bytes();
    CHECK(core::datagram_hash(first) == core::datagram_hash(later));
    CHECK(core::datagram_hash(first) != core::datagram_hash(other));
    CHECK(core::datagram_hash(Bytes{0x45}) == 0);
}

} // TEST_SUITE
