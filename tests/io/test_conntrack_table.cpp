// read_conntrack_table / parse_conntrack_drops (tests/e2e/io_adapters.sh): the kernel's own
// numbers, and the parser on what the kernel writes.
#include "conenat/io/conntrack_table.hpp"
#include "tests/io/netns_support.hpp"

#include <doctest/doctest.h>

using namespace conenat;

TEST_CASE("parse_conntrack_drops sums the drop column over the CPUs (hex)") {
    const char* stat =
        "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error\n"
        "00000002  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 0000000a 00000000 00000000\n"
        "00000001  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000011 00000000 00000000\n";
    CHECK(io::parse_conntrack_drops(stat) == 27u);
    CHECK(io::parse_conntrack_drops("entries found\n00000001 00000000\n") == std::nullopt); // no such column
    CHECK(io::parse_conntrack_drops("") == std::nullopt);
    CHECK(io::parse_conntrack_drops("entries drop\n") == 0u); // no CPU line
    CHECK(io::parse_conntrack_drops("entries drop\n00000001\n") == 0u); // a short line counts nothing
}

TEST_CASE("read_conntrack_table: this namespace's count under a positive limit, not full") {
    IOTEST_REQUIRE_NETNS();
    auto s = io::read_conntrack_table();
    REQUIRE_MESSAGE(s.ok(), s.error());
    CHECK(s->max > 0);
    CHECK(s->count < s->max);
    CHECK_FALSE(s->full());
    CHECK(io::ConntrackTableState{10, 10, 0}.full());
    CHECK_FALSE(io::ConntrackTableState{10, 0, 0}.full()); // no limit
}
