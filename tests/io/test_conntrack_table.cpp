// read_conntrack_table / parse_conntrack_stat (tests/e2e/io_adapters.sh): the kernel's own
// numbers, and the parser on what the kernel writes.
#include "conenat/io/conntrack_table.hpp"
#include "tests/io/netns_support.hpp"

#include <doctest/doctest.h>

using namespace conenat;

TEST_CASE("parse_conntrack_stat sums a column over the CPUs (hex)") {
    const char* stat =
        "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error\n"
        "00000002  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 0000000a 00000000 00000000\n"
        "00000001  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000011 00000000 00000000\n";
    CHECK(io::parse_conntrack_stat(stat, "drop") == 27u);
    CHECK(io::parse_conntrack_stat(stat, "early_drop") == 0u); // a column of its own, not "drop"'s
    CHECK(io::parse_conntrack_stat("entries found\n00000001 00000000\n", "drop") == std::nullopt); // no such column
    CHECK(io::parse_conntrack_stat("", "drop") == std::nullopt);
    CHECK(io::parse_conntrack_stat("entries drop\n", "drop") == 0u); // no CPU line
    CHECK(io::parse_conntrack_stat("entries drop\n00000001\n", "drop") == 0u); // a short line counts nothing
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
