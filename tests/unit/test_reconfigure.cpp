// Live reconfiguration of the mapping table: a new NAT type, a shrunk pool, a renumbered WAN,
// no WAN address at all; existing mappings keep what they were created with.
#include "conenat/core/nat/translator.hpp"
#include "tests/support/packet_builder.hpp"

#include <doctest/doctest.h>

#include <set>
#include <utility>
#include <vector>

using namespace conenat::core;
using conenat::test::ep;
using conenat::test::ip;

namespace {

NatConfig config(NatType t, std::vector<Ipv4> addrs = {ip("198.51.100.254")}) {
    NatConfig c;
    c.set_type(t);
    c.pool.external_addrs = std::move(addrs);
    c.max_mappings = 4096;
    c.max_sessions = 8192;
    return c;
}

struct Recorder : MappingObserver {
    std::vector<Endpoint> created, removed;
    void mapping_created(const Mapping& m, TimeMs) override { created.push_back(m.external()); }
    void mapping_removed(const Mapping& m, TimeMs, TimeMs) override { removed.push_back(m.external()); }
};

MappingId make(MappingTable& t, const char* internal, const char* remote, TimeMs now, Proto p = Proto::Udp) {
    Counter why{};
    return t.create(p, ep(internal), ep(remote), now, why);
}

// Creates mappings from fresh internal endpoints until the pool refuses; every external
// endpoint in the table must then have exactly one owner.
void exhaust_and_check_owners(MappingTable& t, TimeMs now) {
    for (std::uint32_t i = 0; i < 5000; ++i) {
        Counter why{};
        const Endpoint internal{ip("10.1.0.0") + i / 200, std::uint16_t(20000 + i % 200)};
        if (t.create(Proto::Udp, internal, ep("203.0.113.9:9"), now, why) == kNil) {
            CHECK((why == Counter::drop_ports_exhausted || why == Counter::drop_mapping_cap));
            break;
        }
    }
    std::set<std::pair<Ipv4, std::uint16_t>> owners;
    std::size_t n = 0;
    t.for_each_mapping([&](MappingId, const Mapping& m) {
        if (m.proto != Proto::Udp) return;
        owners.insert({m.ext_addr, m.ext_port});
        ++n;
    });
    CHECK(owners.size() == n);
    CHECK(t.consistency_error() == "");
}

} // namespace

TEST_SUITE("mapping table: reconfigure") {

TEST_CASE("full cone -> symmetric: the old EIM mapping serves its endpoint to any remote; a new endpoint gets APDM") {
    MappingTable t(config(NatType::FullCone), 1);
    const MappingId old = make(t, "10.0.0.2:5000", "203.0.113.5:7000", 0);
    REQUIRE(old != kNil);
    t.reconfigure(config(NatType::Symmetric), 1000);
    CHECK(t.find_outbound(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.99:1"), 1000) == old);
    CHECK(t.mapping(old).policy == policy_of(NatType::FullCone));
    CHECK(t.permits(old, ep("203.0.113.77:4444"), 1000)); // still EIF

    const MappingId a = make(t, "10.0.0.3:6000", "203.0.113.5:7000", 1000);
    REQUIRE(a != kNil);
    CHECK(t.find_outbound(Proto::Udp, ep("10.0.0.3:6000"), ep("203.0.113.6:7000"), 1000) == kNil);
    const MappingId b = make(t, "10.0.0.3:6000", "203.0.113.6:7000", 1000);
    REQUIRE(b != kNil);
    CHECK(t.mapping(a).external() != t.mapping(b).external());
    CHECK_FALSE(t.permits(a, ep("203.0.113.6:7000"), 1000)); // APDF
    CHECK(t.consistency_error() == "");

    // Once the old mapping has expired, its endpoint follows the new type too.
    t.expire(1000 + 300'000);
    CHECK(t.find_outbound(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.99:1"), 1000 + 300'000) == kNil);
    const MappingId fresh = make(t, "10.0.0.2:5000", "203.0.113.99:1", 1000 + 300'000);
    REQUIRE(fresh != kNil);
    CHECK(t.mapping(fresh).policy == policy_of(NatType::Symmetric));
    CHECK(t.consistency_error() == "");
}

TEST_CASE("symmetric -> full cone: an old APDM flow keeps its mapping even after an EIM one of its endpoint appears") {
    MappingTable t(config(NatType::Symmetric), 1);
    const MappingId old = make(t, "10.0.0.2:5000", "203.0.113.5:7000", 0);
    REQUIRE(old != kNil);
    t.reconfigure(config(NatType::FullCone), 10);
    CHECK(t.find_outbound(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), 10) == old);
    CHECK(t.find_outbound(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.6:7000"), 10) == kNil);
    const MappingId eim = make(t, "10.0.0.2:5000", "203.0.113.6:7000", 10);
    REQUIRE(eim != kNil);
    CHECK(t.find_outbound(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), 20) == old);
    CHECK(t.find_outbound(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.8:1"), 20) == eim);
    CHECK_FALSE(t.permits(old, ep("203.0.113.6:7000"), 20)); // still APDF
    CHECK(t.permits(eim, ep("203.0.113.200:1"), 20));        // EIF
    CHECK(t.consistency_error() == "");
}

TEST_CASE("a shrunk port set ends the mappings outside it as expiry would; the rest keep their owners") {
    NatConfig c = config(NatType::PortRestrictedCone);
    c.pool.ports = PortSet::from_ranges({{1024, 1279}});
    c.pool.preserve_port = true;
    MappingTable t(c, 7);
    Recorder seen;
    t.set_observer(&seen);
    for (int i = 0; i < 100; ++i) {
        const Endpoint in{ip("10.0.0.2"), std::uint16_t(1024 + i * 2)};
        Counter why{};
        const MappingId m = t.create(Proto::Udp, in, ep("203.0.113.5:7000"), 0, why);
        REQUIRE(m != kNil);
        REQUIRE(t.refresh_outbound(m, ep("203.0.113.5:7000"), 0)); // its APDF permit
    }
    const auto before = t.counters()[Counter::mappings_removed];
    NatConfig next = c;
    next.pool.ports = PortSet::from_ranges({{1024, 1123}}); // ports 1124..1222 drop out
    t.reconfigure(next, 5);
    CHECK(seen.removed.size() == 50);
    for (const Endpoint& e : seen.removed) CHECK(e.port > 1123);
    CHECK(t.counters()[Counter::mappings_removed] == before + 50);
    CHECK(t.mapping_count() == 50);
    CHECK(t.session_count() == 50); // the ended mappings' permits went with them
    CHECK(t.find_inbound(Proto::Udp, ep("198.51.100.254:1200"), 5) == kNil);
    CHECK(t.find_inbound(Proto::Udp, ep("198.51.100.254:1100"), 5) != kNil);
    exhaust_and_check_owners(t, 5);
    CHECK(t.mapping_count() == 100); // the whole new set, none twice
}

TEST_CASE("a renumbered WAN: mappings on the address that went end, the others stay, new ones use the new address") {
    const Ipv4 a = ip("198.51.100.1"), b = ip("198.51.100.2"), c2 = ip("198.51.100.3");
    MappingTable t(config(NatType::FullCone, {a, b}), 3);
    Recorder seen;
    t.set_observer(&seen);
    for (int h = 0; h < 40; ++h) {
        const Endpoint in{ip("10.0.0.1") + Ipv4(h), 5000};
        Counter why{};
        REQUIRE(t.create(Proto::Udp, in, ep("203.0.113.5:7000"), 0, why) != kNil);
    }
    std::size_t on_a = 0;
    t.for_each_mapping([&](MappingId, const Mapping& m) { on_a += m.ext_addr == a; });
    REQUIRE(on_a > 0);
    REQUIRE(on_a < 40);
    t.reconfigure(config(NatType::FullCone, {b, c2}), 10);
    CHECK(seen.removed.size() == on_a);
    t.for_each_mapping([&](MappingId, const Mapping& m) { CHECK(m.ext_addr == b); });
    CHECK(t.mapping_count() == 40 - on_a);
    std::size_t on_c = 0;
    for (int h = 100; h < 140; ++h) {
        const Endpoint in{ip("10.0.0.1") + Ipv4(h), 5000};
        Counter why{};
        const MappingId m = t.create(Proto::Udp, in, ep("203.0.113.5:7000"), 10, why);
        REQUIRE(m != kNil);
        CHECK(t.mapping(m).ext_addr != a);
        on_c += t.mapping(m).ext_addr == c2;
    }
    CHECK(on_c > 0);
    exhaust_and_check_owners(t, 10);
}

TEST_CASE("no external address (a WAN without one yet): nothing allocates, nothing breaks; an address brings it back") {
    NatConfig none = config(NatType::PortRestrictedCone, {});
    CHECK(validate(none) == "");
    MappingTable t(none, 1);
    Counter why{};
    CHECK(t.create(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), 0, why) == kNil);
    CHECK(why == Counter::drop_ports_exhausted);
    CHECK(t.find_inbound(Proto::Udp, ep("198.51.100.254:5000"), 0) == kNil);

    t.reconfigure(config(NatType::PortRestrictedCone), 10);
    const MappingId m = make(t, "10.0.0.2:5000", "203.0.113.5:7000", 10);
    REQUIRE(m != kNil);
    CHECK(t.mapping(m).external() == ep("198.51.100.254:5000"));

    Recorder seen;
    t.set_observer(&seen);
    t.reconfigure(none, 20); // the address goes again (PPPoE down)
    CHECK(seen.removed.size() == 1);
    CHECK(t.mapping_count() == 0);
    CHECK(t.session_count() == 0);
    CHECK(make(t, "10.0.0.3:5000", "203.0.113.5:7000", 20) == kNil);
    CHECK(t.consistency_error() == "");
}

TEST_CASE("limits and timers of a reconfigure apply to what comes next") {
    NatConfig c = config(NatType::FullCone);
    c.max_mappings = 4;
    MappingTable t(c, 1);
    for (int i = 0; i < 4; ++i) REQUIRE(make(t, ("10.0.0." + std::to_string(2 + i) + ":5000").c_str(), "203.0.113.5:7000", 0) != kNil);
    CHECK(make(t, "10.0.0.9:5000", "203.0.113.5:7000", 0) == kNil);
    c.max_mappings = 8;
    c.timeouts.udp_ms = 120'000;
    t.reconfigure(c, 100);
    for (int i = 0; i < 4; ++i) REQUIRE(make(t, ("10.0.1." + std::to_string(2 + i) + ":5000").c_str(), "203.0.113.5:7000", 100) != kNil);
    CHECK(t.consistency_error() == "");
    // The shorter timer counts from the reconfigure for the mappings that were there, and
    // every mapping due is swept, whatever order they were armed in.
    CHECK(t.expire(100 + 120'000 - 1) == 0);
    CHECK(t.expire(100 + 120'000) == 8);
    CHECK(t.mapping_count() == 0);
    for (int i = 0; i < 4; ++i) REQUIRE(make(t, ("10.0.1." + std::to_string(2 + i) + ":5000").c_str(), "203.0.113.5:7000", 150'000) != kNil);
    c.max_mappings = 2; // a lower cap admits nothing new until the table is under it
    t.reconfigure(c, 200'000);
    CHECK(make(t, "10.0.2.2:5000", "203.0.113.5:7000", 200'000) == kNil);
    CHECK(t.consistency_error() == "");
}

TEST_CASE("a changed pool keeps the old one's quarantine for the ports it still has (CGN-8)") {
    NatConfig c = config(NatType::FullCone);
    c.pool.ports = PortSet::from_ranges({{1024, 1100}});
    MappingTable t(c, 1);
    REQUIRE(make(t, "10.0.0.2:1050", "203.0.113.5:7000", 0) != kNil);
    t.expire(300'000); // released into quarantine (EIF UDP)
    REQUIRE(t.mapping_count() == 0);
    c.pool.ports = PortSet::from_ranges({{1024, 1200}});
    t.reconfigure(c, 300'001);
    const MappingId m = make(t, "10.0.0.3:1050", "203.0.113.5:7000", 300'001);
    REQUIRE(m != kNil);
    CHECK(t.mapping(m).ext_port != 1050);
    CHECK(t.ports().in_use(Proto::Udp, ep("198.51.100.254:1050")));
    t.expire(300'000 + c.pool.quarantine_ms + 1);
    const MappingId later = make(t, "10.0.0.4:1050", "203.0.113.5:7000", 300'000 + c.pool.quarantine_ms + 1);
    REQUIRE(later != kNil);
    CHECK(t.mapping(later).ext_port == 1050); // its quarantine is over
    CHECK(t.consistency_error() == "");
}

TEST_CASE("a per-host quota switched on counts the mappings that exist") {
    NatConfig c = config(NatType::FullCone);
    c.per_host_mappings = 0;
    MappingTable t(c, 1);
    REQUIRE(make(t, "10.0.0.2:5000", "203.0.113.5:7000", 0) != kNil);
    REQUIRE(make(t, "10.0.0.2:5001", "203.0.113.5:7000", 0) != kNil);
    c.per_host_mappings = 2;
    t.reconfigure(c, 1);
    Counter why{};
    CHECK(t.create(Proto::Udp, ep("10.0.0.2:5002"), ep("203.0.113.5:7000"), 1, why) == kNil);
    CHECK(why == Counter::drop_host_quota);
}

TEST_CASE("the translator: packets follow a reconfigure; without an address an outbound packet is refused, no reply") {
    NatConfig c = config(NatType::FullCone);
    Translator t(c, 1);
    auto out = [&](const char* src, TimeMs now) {
        auto bytes = conenat::test::Pkt::udp(src, "203.0.113.5:7000").payload("x").bytes();
        std::vector<std::uint8_t> reply(600);
        return t.process(bytes, Direction::Outbound, now, reply);
    };
    CHECK(out("10.0.0.2:5000", 0).action == Action::ToOutside);
    t.reconfigure(config(NatType::FullCone, {}), 10);
    const Outcome refused = out("10.0.0.3:5000", 10);
    CHECK(refused.action == Action::Drop);
    CHECK(refused.reason == Counter::drop_ports_exhausted);
    CHECK(refused.reply_len == 0); // no address to send it from
    t.reconfigure(config(NatType::Symmetric, {ip("192.0.2.1")}), 20);
    CHECK(out("10.0.0.3:5000", 20).action == Action::ToOutside);
    CHECK(t.table().mapping_count() == 1);
    CHECK(t.table().consistency_error() == "");
}

} // TEST_SUITE
