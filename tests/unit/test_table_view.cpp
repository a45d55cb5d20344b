// The operator's view of the mapping table (conenatctl mappings / sessions): live rows only,
// filters, timers as the lookups judge them, the row limit.
#include "conenat/core/nat/mapping_table.hpp"
#include "tests/support/packet_builder.hpp"
#include "tests/support/scenario.hpp"

#include <doctest/doctest.h>

using namespace conenat::core;
using conenat::test::ep;
using conenat::test::ip;
using conenat::test::small_config;

TEST_SUITE("mapping table: view") {

TEST_CASE("rows of live mappings with their endpoints, idle time and expiry; dead ones are left out") {
    MappingTable t(small_config(NatType::PortRestrictedCone), 1);
    Counter why{};
    const MappingId a = t.create(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), 0, why);
    const MappingId b = t.create(Proto::Tcp, ep("10.0.0.3:6000"), ep("203.0.113.6:80"), 0, why);
    REQUIRE(a != kNil);
    REQUIRE(b != kNil);
    REQUIRE(t.refresh_outbound(a, ep("203.0.113.5:7000"), 0));
    std::vector<MappingRow> rows;
    CHECK(t.view_mappings(10'000, {}, 100, rows));
    REQUIRE(rows.size() == 2);
    const MappingRow& r = rows[0].proto == Proto::Udp ? rows[0] : rows[1];
    CHECK(r.internal == ep("10.0.0.2:5000"));
    CHECK(r.external == t.mapping(a).external());
    CHECK(r.idle_ms == 10'000);
    CHECK(r.expires_in_ms == t.config().timeouts.udp_ms - 10'000);
    CHECK(r.sessions == 1);
    CHECK(r.policy.filtering == Behaviour::AddressAndPortDependent);

    std::vector<SessionRow> sessions;
    CHECK(t.view_sessions(10'000, {}, 100, sessions));
    REQUIRE(sessions.size() == 1);
    CHECK(sessions[0].remote == ep("203.0.113.5:7000"));
    CHECK(sessions[0].tcp == TcpState::None);

    rows.clear(); // past the TCP mapping's transitory timer, before the UDP one's
    CHECK(t.view_mappings(t.config().timeouts.tcp_transitory_ms + 1, {}, 100, rows));
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].proto == Proto::Udp);
}

TEST_CASE("filters: protocol, internal and external address with or without port") {
    MappingTable t(small_config(NatType::FullCone), 1);
    Counter why{};
    REQUIRE(t.create(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), 0, why) != kNil);
    REQUIRE(t.create(Proto::Udp, ep("10.0.0.2:5001"), ep("203.0.113.5:7000"), 0, why) != kNil);
    REQUIRE(t.create(Proto::Icmp, ep("10.0.0.3:77"), ep("203.0.113.5:0"), 0, why) != kNil);
    auto count = [&](const ViewFilter& f) {
        std::vector<MappingRow> rows;
        (void)t.view_mappings(1, f, 100, rows);
        return rows.size();
    };
    CHECK(count({}) == 3);
    CHECK(count({Proto::Udp, {}, {}}) == 2);
    CHECK(count({Proto::Tcp, {}, {}}) == 0);
    CHECK(count({{}, ep("10.0.0.2:0"), {}}) == 2);
    CHECK(count({{}, ep("10.0.0.2:5001"), {}}) == 1);
    CHECK(count({{}, {}, ep("198.51.100.254:0")}) == 3);
    CHECK(count({{}, {}, ep("198.51.100.253:0")}) == 0);
}

TEST_CASE("the row limit: stops there and says so") {
    MappingTable t(small_config(NatType::FullCone), 1);
    Counter why{};
    for (std::uint16_t p = 5000; p < 5010; ++p)
        REQUIRE(t.create(Proto::Udp, {ip("10.0.0.2"), p}, ep("203.0.113.5:7000"), 0, why) != kNil);
    std::vector<MappingRow> rows;
    CHECK_FALSE(t.view_mappings(1, {}, 4, rows));
    CHECK(rows.size() == 4);
    rows.clear();
    CHECK(t.view_mappings(1, {}, 10, rows));
    CHECK(rows.size() == 10);
}

TEST_CASE("a forward never expires") {
    NatConfig c = small_config(NatType::Symmetric);
    c.forwards = {{Proto::Udp, ep("0.0.0.0:25001"), ep("10.0.0.5:25001")}};
    MappingTable t(c, 1);
    std::vector<MappingRow> rows;
    CHECK(t.view_mappings(1'000'000'000, {}, 10, rows));
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].forward);
    CHECK(rows[0].expires_in_ms == kNoExpiry);
}

} // TEST_SUITE
