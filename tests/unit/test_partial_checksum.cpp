// fix_partial_checksum: what a CHECKSUM_PARTIAL packet must carry once NFQUEUE returns it
// with CHECKSUM_NONE (see partial_checksum.hpp).
#include "conenat/core/packet/partial_checksum.hpp"

#include "conenat/core/packet/checksum.hpp"
#include "tests/support/packet_builder.hpp"

#include <doctest/doctest.h>

using namespace conenat;
using namespace conenat::test;

namespace {

// What the sending kernel leaves in the field of a partial packet: the folded pseudo-header
// sum, not complemented (~tcp_v4_check(len, saddr, daddr, 0)).
std::uint16_t pseudo(const Bytes& p) {
    const std::size_t ihl = std::size_t(p[0] & 0x0f) * 4;
    std::uint32_t sum = core::csum_partial(std::span(p).subspan(12, 8));
    sum += p[9];
    sum += std::uint32_t(core::load16(&p[2]) - ihl);
    return core::csum_fold(sum);
}

Bytes as_partial(Bytes p) {
    const std::size_t at = 20 + (p[9] == 6 ? 16 : 6);
    core::store16(&p[at], pseudo(p));
    return p;
}

} // namespace

TEST_SUITE("queue engine checksums") {

TEST_CASE("a partial TCP or UDP packet leaves with its complete checksum") {
    for (Bytes p : {Pkt::tcp("10.0.0.2:5000", "203.0.113.5:80", 0x18).payload("hello, partial world").bytes(),
                    Pkt::udp("10.0.0.2:5000", "203.0.113.5:53").payload("odd").bytes()}) {
        Bytes partial = as_partial(p);
        CHECK(!checksum_errors(partial).empty());
        REQUIRE(core::fix_partial_checksum(partial, false));
        CHECK(checksum_errors(partial) == "");
        CHECK(partial == p);
    }
}

TEST_CASE("after the addresses and ports changed, the checksum is right for the new ones") {
    Bytes partial = as_partial(Pkt::udp("10.0.0.2:5000", "203.0.113.5:53").payload("dns?").bytes());
    // A translation that updated the field the way it would update a complete checksum.
    core::store32(&partial[12], test::ip("198.51.100.254"));
    core::store16(&partial[20], 40000);
    core::store16(&partial[10], 0);
    core::store16(&partial[10], core::csum_finish(core::csum_partial(std::span(partial).first(20))));
    REQUIRE(core::fix_partial_checksum(partial, false));
    CHECK(checksum_errors(partial) == "");
}

TEST_CASE("a GSO packet keeps the pseudo-header sum of its new addresses") {
    Bytes p = as_partial(Pkt::udp("10.0.0.2:5000", "203.0.113.5:443").payload(std::string(3000, 'q')).bytes());
    core::store32(&p[12], test::ip("198.51.100.254"));
    REQUIRE(core::fix_partial_checksum(p, true));
    CHECK(core::load16(&p[26]) == pseudo(p));
}

TEST_CASE("a UDP checksum that computes to zero is sent as all ones (RFC 768)") {
    // Search a payload whose checksum comes out as 0: the field must then read 0xffff.
    for (std::uint16_t v = 0; v < 0xffff; ++v) {
        Bytes p = Pkt::udp("10.0.0.2:5000", "203.0.113.5:53").payload(Bytes{std::uint8_t(v >> 8), std::uint8_t(v)}).bytes();
        if (core::load16(&p[26]) != 0xffff) continue;
        Bytes partial = as_partial(p);
        REQUIRE(core::fix_partial_checksum(partial, false));
        CHECK(core::load16(&partial[26]) == 0xffff);
        CHECK(checksum_errors(partial) == "");
        return;
    }
    FAIL("no payload with a zero checksum found");
}

TEST_CASE("anything but an unfragmented TCP/UDP packet is left alone") {
    Bytes echo = Pkt::icmp_echo("10.0.0.2", "203.0.113.5", 7).bytes();
    const Bytes before = echo;
    CHECK(!core::fix_partial_checksum(echo, false));
    CHECK(echo == before);
    Bytes frag = Pkt::udp("10.0.0.2:5000", "203.0.113.5:53").payload("x").mf().bytes();
    CHECK(!core::fix_partial_checksum(frag, false));
    CHECK(!core::fix_partial_checksum(std::span(frag).first(10), false));
}

} // TEST_SUITE
