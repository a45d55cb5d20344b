// The mapping table as the conntrack engine drives it: kernel flows hold mappings and permits.
#include "conenat/core/nat/mapping_table.hpp"
#include "tests/support/packet_builder.hpp"
#include "tests/support/scenario.hpp"

#include <doctest/doctest.h>

using namespace conenat::core;
using conenat::test::ep;
using conenat::test::small_config;

TEST_SUITE("mapping table: kernel flows") {

TEST_CASE("UDP-5: a live kernel flow keeps its mapping past every timer; its end starts the timer") {
    MappingTable t(small_config(NatType::FullCone), 1);
    Counter why{};
    const MappingId m = t.create(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), 0, why);
    REQUIRE(m != kNil);
    REQUIRE(t.flow_begin(m, ep("203.0.113.5:7000"), 0));
    t.expire(10'000'000);
    CHECK(t.find_inbound(Proto::Udp, ep("198.51.100.254:5000"), 10'000'000) == m);
    t.flow_end(m, ep("203.0.113.5:7000"), 10'000'000);
    t.expire(10'000'000 + 299'999);
    CHECK(t.find_inbound(Proto::Udp, ep("198.51.100.254:5000"), 10'000'000 + 299'999) == m);
    t.expire(10'000'000 + 300'000);
    CHECK(t.mapping_count() == 0);
    CHECK(t.consistency_error() == "");
}

TEST_CASE("UDP-8: flows are the filter permits: APDF per endpoint, ADF per address") {
    SUBCASE("port-restricted") {
        MappingTable t(small_config(NatType::PortRestrictedCone), 1);
        Counter why{};
        const MappingId m = t.create(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), 0, why);
        REQUIRE(t.flow_begin(m, ep("203.0.113.5:7000"), 0));
        CHECK(t.permits(m, ep("203.0.113.5:7000"), 1));
        CHECK_FALSE(t.permits(m, ep("203.0.113.5:7001"), 1));
    }
    SUBCASE("restricted: one flow to Y admits Y's other ports until the flow has ended + timeout") {
        MappingTable t(small_config(NatType::RestrictedCone), 1);
        Counter why{};
        const MappingId m = t.create(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), 0, why);
        REQUIRE(t.flow_begin(m, ep("203.0.113.5:7000"), 0));
        t.expire(5'000'000);
        CHECK(t.permits(m, ep("203.0.113.5:9999"), 5'000'000));
        CHECK_FALSE(t.permits(m, ep("203.0.113.6:7000"), 5'000'000));
        t.flow_end(m, ep("203.0.113.5:7000"), 5'000'000);
        CHECK(t.permits(m, ep("203.0.113.5:9999"), 5'000'000 + 299'999));
        t.expire(5'000'000 + 300'000);
        CHECK(t.mapping_count() == 0);
        CHECK(t.session_count() == 0);
    }
}

TEST_CASE("resync: flows missing from a fresh dump end; the ones present stay") {
    MappingTable t(small_config(NatType::PortRestrictedCone), 1);
    Counter why{};
    const MappingId m = t.create(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), 0, why);
    REQUIRE(t.flow_begin(m, ep("203.0.113.5:7000"), 0));
    REQUIRE(t.flow_begin(m, ep("203.0.113.6:7000"), 0));
    t.resync_begin();
    REQUIRE(t.flow_begin(m, ep("203.0.113.6:7000"), 100)); // still in the kernel
    t.resync_end(100);
    t.expire(100 + 300'000);
    CHECK_FALSE(t.permits(m, ep("203.0.113.5:7000"), 100 + 300'000));
    CHECK(t.permits(m, ep("203.0.113.6:7000"), 100 + 300'000));
    CHECK(t.consistency_error() == "");
}

TEST_CASE("release check: a mapping past its timer waits, live, until settled; a flow found then keeps it") {
    MappingTable t(small_config(NatType::FullCone), 1);
    t.set_release_check(true);
    Counter why{};
    const MappingId a = t.create(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), 0, why);
    const MappingId b = t.create(Proto::Udp, ep("10.0.0.3:5000"), ep("203.0.113.5:7000"), 0, why);
    REQUIRE(a != kNil);
    REQUIRE(b != kNil);
    const Endpoint ext_a = t.mapping(a).external(), ext_b = t.mapping(b).external();
    REQUIRE(t.flow_begin(a, ep("203.0.113.5:7000"), 0));
    t.flow_end(a, ep("203.0.113.5:7000"), 0);
    t.expire(300'000 + 301'000); // b's timer and a's (its flow's end + 300 s) are over
    CHECK(t.due_count() == 2);
    CHECK(t.mapping_count() == 2);
    // Still live: lookups find them, no other host can take their ports, and they are listed.
    CHECK(t.find_inbound(Proto::Udp, ext_a, 700'000) == a);
    CHECK(t.find_outbound(Proto::Udp, ep("10.0.0.3:5000"), ep("203.0.113.9:1"), 700'000) == b);
    CHECK(t.adopt(Proto::Udp, ep("10.0.0.4:5000"), ep("203.0.113.5:7000"), ext_b, 700'000, why) == kNil);
    std::vector<MappingRow> rows;
    CHECK(t.view_mappings(700'000, ViewFilter{}, 10, rows));
    CHECK(rows.size() == 2);
    t.expire(10'000'000); // the sweep leaves them be
    CHECK(t.due_count() == 2);
    // The check found a kernel flow of b's (one we were not told of), none of a's.
    REQUIRE(t.flow_begin(b, ep("203.0.113.8:53"), 10'000'000));
    int seen = 0;
    t.for_each_due([&](MappingId, const Mapping&) { ++seen; });
    CHECK(seen == 2);
    CHECK(t.settle(a, 10'000'000));
    CHECK_FALSE(t.settle(b, 10'000'000));
    CHECK(t.due_count() == 0);
    CHECK(t.mapping_count() == 1);
    CHECK(t.find_inbound(Proto::Udp, ext_a, 10'000'000) == kNil);
    CHECK(t.find_inbound(Proto::Udp, ext_b, 10'000'000) == b);
    CHECK(t.consistency_error() == "");
    // b's flow ends: its timer runs again, then it is due again, and settles.
    t.flow_end(b, ep("203.0.113.8:53"), 10'000'000);
    t.expire(10'000'000 + 299'000);
    CHECK(t.due_count() == 0);
    t.expire(10'000'000 + 10'000'000);
    CHECK(t.due_count() == 1);
    CHECK(t.consistency_error() == "");
    // Outbound traffic on a due mapping refreshes it: off the due list, nothing to settle.
    CHECK(t.refresh_outbound(b, ep("203.0.113.8:53"), 20'000'001));
    CHECK(t.due_count() == 0);
    CHECK_FALSE(t.settle(b, 20'000'001));
    CHECK(t.mapping_count() == 1);
    // Turned off, the sweep ends mappings again (the control).
    t.set_release_check(false);
    t.expire(40'000'000);
    CHECK(t.mapping_count() == 0);
    CHECK(t.consistency_error() == "");
}

TEST_CASE("adopt: state rebuilt from the kernel claims the same external endpoint") {
    MappingTable t(small_config(NatType::FullCone), 1);
    Counter why{};
    const MappingId m = t.adopt(Proto::Tcp, ep("10.0.0.2:5000"), ep("203.0.113.5:80"), ep("198.51.100.254:23456"), 0, why);
    REQUIRE(m != kNil);
    CHECK(t.find_inbound(Proto::Tcp, ep("198.51.100.254:23456"), 1) == m);
    CHECK(t.adopt(Proto::Tcp, ep("10.0.0.3:5000"), ep("203.0.113.5:80"), ep("198.51.100.254:23456"), 0, why) == kNil);
    CHECK(to_string(why) == "drop_ports_exhausted");
}

TEST_CASE("retire: a takeover's synced binding replaces a live mapping of the same endpoint and takes its port") {
    MappingTable t(small_config(NatType::PortRestrictedCone), 1);
    Counter why{};
    // Made here in the takeover's window: another external endpoint, a flow and its permit.
    const MappingId mine = t.adopt(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), ep("198.51.100.254:20001"), 0, why);
    REQUIRE(mine != kNil);
    REQUIRE(t.flow_begin(mine, ep("203.0.113.5:7000"), 0));
    // Control: while it lives, the synced binding cannot be adopted.
    CHECK(t.adopt(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), ep("198.51.100.254:25000"), 1, why) == kNil);
    t.retire(mine, 1);
    CHECK(t.mapping_count() == 0);
    CHECK(t.session_count() == 0);
    CHECK(t.find_inbound(Proto::Udp, ep("198.51.100.254:20001"), 1) == kNil);
    const MappingId synced = t.adopt(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), ep("198.51.100.254:25000"), 1, why);
    REQUIRE(synced != kNil);
    CHECK(t.find_outbound(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.6:9"), 1) == synced);
    // The retired port is free again: another endpoint's synced flow can hold it.
    CHECK(t.adopt(Proto::Udp, ep("10.0.0.3:5000"), ep("203.0.113.5:7000"), ep("198.51.100.254:20001"), 1, why) != kNil);
    CHECK(t.consistency_error() == "");
}

TEST_CASE("adopt: a kernel flow on a quarantined port (RFC 6888 REQ-8) is adopted; a new mapping never gets the port") {
    MappingTable t(small_config(NatType::FullCone), 1); // EIF: freed UDP ports are quarantined
    Counter why{};
    const MappingId m = t.adopt(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), ep("198.51.100.254:20001"), 0, why);
    REQUIRE(m != kNil);
    t.retire(m, 1);
    CHECK(t.ports().claim(Proto::Udp, ep("198.51.100.254:20001")) == false); // quarantined: claim refuses
    const MappingId synced = t.adopt(Proto::Udp, ep("10.0.0.3:6000"), ep("203.0.113.5:7000"), ep("198.51.100.254:20001"), 2, why);
    REQUIRE(synced != kNil);
    CHECK(t.find_inbound(Proto::Udp, ep("198.51.100.254:20001"), 2) == synced);
    CHECK(t.consistency_error() == "");
}

} // TEST_SUITE
