// Parsers of option and config values.
#include "conenat/util/text.hpp"

#include <doctest/doctest.h>

using namespace conenat;
using namespace conenat::text;

TEST_SUITE("text parsers") {

TEST_CASE("IPv4 addresses") {
    CHECK(parse_ipv4("10.0.0.1") == core::make_ipv4(10, 0, 0, 1));
    CHECK(parse_ipv4("255.255.255.255") == 0xffffffffu);
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "01.2.3.4", "1.2.3.4 ", "a.b.c.d", "1..3.4", "0x1.2.3.4"})
        CHECK_MESSAGE(!parse_ipv4(bad), bad);
    CHECK(format_ipv4(core::make_ipv4(198, 51, 100, 254)) == "198.51.100.254");
}

TEST_CASE("CIDR prefixes") {
    const auto p = parse_cidr("10.0.0.0/24");
    REQUIRE(p);
    CHECK(p->addr == core::make_ipv4(10, 0, 0, 0));
    CHECK(p->len == 24);
    std::string why;
    CHECK(!parse_cidr("10.0.0.1/24", &why));
    CHECK(why == "host bits are set");
    CHECK(!parse_cidr("10.0.0.0/33", &why));
    CHECK(!parse_cidr("10.0.0.0", &why));
    CHECK(parse_cidr("0.0.0.0/0"));
}

TEST_CASE("port ranges") {
    const auto r = parse_port_ranges("20000-29999,5000");
    REQUIRE(r);
    CHECK(r->size() == 2);
    CHECK((*r)[0] == core::PortRange{20000, 29999});
    CHECK((*r)[1] == core::PortRange{5000, 5000});
    std::string why;
    for (const char* bad : {"", "0-10", "10-5", "1-65536", "x", "1-", "-5", "1,,2"}) CHECK_MESSAGE(!parse_port_ranges(bad, &why), bad);
}

TEST_CASE("MAP-E port sets (RFC 7597 §5.1)") {
    const auto set = parse_map_e("psid=44,psid-len=8,offset=4");
    REQUIRE(set);
    CHECK(set->size() == 240);
    CHECK(set->contains(4800));
    std::string why;
    CHECK(!parse_map_e("psid=44", &why));
    CHECK(!parse_map_e("psid=300,psid-len=8,offset=4", &why));
    CHECK(!parse_map_e("psid=1,psid-len=8,colour=4", &why));
    CHECK(why.find("colour") != std::string::npos);
}

TEST_CASE("numbers") {
    CHECK(parse_uint("0x00100000", 1, 0xffffffff) == 0x100000u);
    CHECK(parse_uint("300", 120, 86400) == 300u);
    CHECK(!parse_uint("119", 120, 86400));
    CHECK(!parse_uint("12a", 0, 1000));
    CHECK(!parse_uint("", 0, 1000));
    CHECK(!parse_uint("99999999999999999999999", 0, 1000));
}

} // TEST_SUITE
