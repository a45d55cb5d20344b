#include "conenat/core/nat/port_set.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

using namespace conenat::core;

namespace {

// RFC 7597 §5.1 reverse rule: PSID(P) = (P >> m) & (2^k - 1), and A = P >> (16 - a) must be non-zero.
bool map_e_owns(unsigned port, unsigned psid, unsigned k, unsigned a) {
    const unsigned m = 16 - a - k;
    const bool psid_ok = ((port >> m) & ((1u << k) - 1)) == psid;
    const bool a_ok = a == 0 || (port >> (16 - a)) != 0;
    return psid_ok && a_ok && port != 0;
}

// Every port of the set has the right index, and every other port is outside it.
void check_consistent(const PortSet& set) {
    std::uint32_t index = 0;
    for (std::uint32_t port = 0; port <= 65535; ++port) {
        const auto p = std::uint16_t(port);
        const auto i = set.index_of(p);
        CHECK(set.contains(p) == i.has_value());
        if (i) {
            REQUIRE(*i == index);
            REQUIRE(set.at(index) == p);
            ++index;
        }
    }
    CHECK(index == set.size());
}

} // namespace

TEST_SUITE("port_set") {

TEST_CASE("CGN-3: from_ranges merges unsorted, overlapping and adjacent ranges") {
    const auto set = PortSet::from_ranges({{3000, 3999}, {1024, 2047}, {2048, 2100}, {2000, 2050}, {5000, 5000}});
    CHECK(set.ranges() == std::vector<PortRange>{{1024, 2100}, {3000, 3999}, {5000, 5000}});
    CHECK(set.size() == (2100 - 1024 + 1) + 1000 + 1);
    CHECK(set.at(0) == 1024);
    CHECK(set.at(1077) == 3000);
    CHECK(set.at(set.size() - 1) == 5000);
    CHECK_FALSE(set.contains(2101));
    CHECK_FALSE(set.contains(2999));
    CHECK(set.contains(3999));
    CHECK_FALSE(set.index_of(6000));
    CHECK_FALSE(set.index_of(1));
    check_consistent(set);
}

TEST_CASE("from_ranges drops port 0, inverted and empty input") {
    CHECK(PortSet::from_ranges({}).empty());
    CHECK(PortSet::from_ranges({{0, 0}}).empty());
    CHECK(PortSet::from_ranges({{10, 5}}).empty());
    const auto set = PortSet::from_ranges({{0, 10}});
    CHECK(set.ranges() == std::vector<PortRange>{{1, 10}});
    CHECK(set.size() == 10);
    CHECK_FALSE(set.contains(0));
}

TEST_CASE("from_ranges covers the top of the port space without overflow") {
    const auto full = PortSet::from_ranges({{0, 65535}, {65535, 65535}, {60000, 65535}});
    CHECK(full.ranges() == std::vector<PortRange>{{1, 65535}});
    CHECK(full.size() == 65535);
    CHECK(full.at(65534) == 65535);
    CHECK(*full.index_of(65535) == 65534);
    const auto split = PortSet::from_ranges({{65535, 65535}, {1, 1}, {3, 3}, {2, 2}});
    CHECK(split.ranges() == std::vector<PortRange>{{1, 3}, {65535, 65535}});
    check_consistent(split);
}

TEST_CASE("MAP-1: v6 plus port set (a=4, k=8, PSID=0x2C) has 15 ranges of 16 ports") {
    std::string error;
    const auto set = PortSet::map_e(0x2C, 8, 4, &error);
    REQUIRE(set);
    CHECK(error.empty());
    CHECK(set->size() == 240);
    REQUIRE(set->ranges().size() == 15);
    CHECK(set->ranges().front() == PortRange{4800, 4815});
    CHECK(set->ranges()[1] == PortRange{8896, 8911});
    CHECK(set->ranges()[2] == PortRange{12992, 13007});
    CHECK(set->ranges()[3] == PortRange{17088, 17103});
    CHECK(set->ranges()[13] == PortRange{58048, 58063});
    CHECK(set->ranges().back() == PortRange{62144, 62159});
    for (unsigned port = 0; port <= 65535; ++port)
        REQUIRE(set->contains(std::uint16_t(port)) == map_e_owns(port, 0x2C, 8, 4));
    check_consistent(*set);
}

TEST_CASE("MAP-1: RFC 7597 example (a=6, k=8, PSID=0x34) gives 63 ranges 1232-1235 .. 64720-64723") {
    const auto set = PortSet::map_e(0x34, 8, 6);
    REQUIRE(set);
    CHECK(set->size() == 252);
    REQUIRE(set->ranges().size() == 63);
    CHECK(set->ranges().front() == PortRange{1232, 1235});
    CHECK(set->ranges()[1] == PortRange{2256, 2259});
    CHECK(set->ranges().back() == PortRange{64720, 64723});
    for (unsigned port = 0; port <= 65535; ++port)
        REQUIRE(set->contains(std::uint16_t(port)) == map_e_owns(port, 0x34, 8, 6));
    check_consistent(*set);
}

TEST_CASE("MAP-1: RFC 7597 App. B GMA example, PSID 0 gives 1024-1027 .. 64512-64515") {
    const auto set = PortSet::map_e(0, 8, 6);
    REQUIRE(set);
    CHECK(set->ranges().front() == PortRange{1024, 1027});
    CHECK(set->ranges().back() == PortRange{64512, 64515});
    CHECK(set->size() == 252);
}

TEST_CASE("MAP-1: port set sizes are 2^(16-k) - 2^m for every PSID") {
    struct Params { unsigned k, a; };
    for (const Params p : {Params{8, 4}, Params{8, 6}, Params{6, 6}, Params{4, 0}, Params{10, 6}, Params{12, 4}, Params{0, 6}}) {
        const unsigned m = 16 - p.a - p.k;
        for (unsigned psid : {0u, 1u, (1u << p.k) - 1}) {
            if (psid >= (1u << p.k))
                continue;
            CAPTURE(p.k); CAPTURE(p.a); CAPTURE(psid);
            const auto set = PortSet::map_e(psid, p.k, p.a);
            REQUIRE(set);
            const unsigned expected = p.a == 0 ? (1u << m) - (psid == 0 ? 1 : 0) : (1u << (16 - p.k)) - (1u << m);
            CHECK(set->size() == expected);
            for (const PortRange& r : set->ranges())
                for (unsigned port = r.first; port <= r.last; ++port)
                    REQUIRE(map_e_owns(port, psid, p.k, p.a));
        }
    }
}

TEST_CASE("MAP-1: offset 0 gives one contiguous range") {
    const auto set = PortSet::map_e(5, 4, 0);
    REQUIRE(set);
    CHECK(set->ranges() == std::vector<PortRange>{{5 * 4096, 5 * 4096 + 4095}});
    const auto fine = PortSet::map_e(3, 6, 10); // m = 0: single-port ranges
    REQUIRE(fine);
    CHECK(fine->size() == 1023);
    CHECK(fine->ranges().front() == PortRange{64 + 3, 64 + 3});
}

TEST_CASE("MAP-1: map_e rejects impossible parameters with a message") {
    std::string error;
    CHECK_FALSE(PortSet::map_e(0, 8, 9, &error));
    CHECK_FALSE(error.empty());
    error.clear();
    CHECK_FALSE(PortSet::map_e(0, 16, 0, &error));
    CHECK_FALSE(error.empty());
    error.clear();
    CHECK_FALSE(PortSet::map_e(256, 8, 4, &error));
    CHECK_FALSE(error.empty());
    error.clear();
    CHECK_FALSE(PortSet::map_e(0, 0, 17, &error));
    CHECK_FALSE(error.empty());
    CHECK_FALSE(PortSet::map_e(1, 0, 6)); // psid must be 0 when its length is 0; no error sink
    CHECK(PortSet::map_e(0, 0, 6));
    CHECK(PortSet::map_e(255, 8, 8));
}

TEST_CASE("without: the default pool minus the router's ephemeral range") {
    const PortSet pool = PortSet::from_ranges({{1024, 65535}});
    const PortSet left = pool.without({{32768, 60999}});
    CHECK(left.ranges() == std::vector<PortRange>{{1024, 32767}, {61000, 65535}});
    CHECK(left.size() == 65535 - 1024 + 1 - (60999 - 32768 + 1));
    CHECK(pool.without({}).ranges() == pool.ranges());
    CHECK(pool.without({{0, 65535}}).empty());
    CHECK(pool.without({{1, 1024}, {65535, 65535}}).ranges() == std::vector<PortRange>{{1025, 65534}});
    const PortSet split = PortSet::from_ranges({{10, 20}, {30, 40}}).without({{15, 35}, {12, 12}});
    CHECK(split.ranges() == std::vector<PortRange>{{10, 11}, {13, 14}, {36, 40}});
}

} // TEST_SUITE
