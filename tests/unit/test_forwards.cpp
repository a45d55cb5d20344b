// Static forwards: permanent EIM/EIF mappings whatever the NAT type, their ports reserved,
// following the first external address; and the checks a config's forwards must pass.
#include "tests/support/scenario.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace conenat::core;
using namespace conenat::test;

namespace {

Forward fwd(Proto p, const char* external, const char* internal) {
    return {p, external[0] == ':' ? Endpoint{0, ep(std::string("0.0.0.0") + external).port} : ep(external), ep(internal)};
}

NatConfig with_forwards(NatType t, std::vector<Forward> forwards) {
    NatConfig c = lab_config(t);
    c.forwards = std::move(forwards);
    return c;
}

Bytes udp(const char* src, const char* dst) { return Pkt::udp(src, dst).payload("wg").bytes(); }

struct Recorder : MappingObserver {
    std::vector<Endpoint> created, removed;
    void mapping_created(const Mapping& m, TimeMs) override { created.push_back(m.external()); }
    void mapping_removed(const Mapping& m, TimeMs, TimeMs) override { removed.push_back(m.external()); }
    void reset() {
        created.clear();
        removed.clear();
    }
};

} // namespace

TEST_SUITE("forwards") {

TEST_CASE("a forward under symmetric NAT: anyone reaches it, and the server's own traffic leaves from it") {
    const NatConfig c = with_forwards(NatType::Symmetric, {fwd(Proto::Udp, ":51820", "10.0.0.10:51820"),
                                                           fwd(Proto::Tcp, ":8080", "10.0.0.11:80")});
    run({"forward", "UDP in from two remotes, out to a third", c,
         {in(udp("203.0.113.7:1234", "198.51.100.254:51820"), Action::ToInside, udp("203.0.113.7:1234", "10.0.0.10:51820")),
          in(udp("192.0.2.9:999", "198.51.100.254:51820"), Action::ToInside, udp("192.0.2.9:999", "10.0.0.10:51820")),
          out(udp("10.0.0.10:51820", "192.0.2.200:4000"), Action::ToOutside, udp("198.51.100.254:51820", "192.0.2.200:4000")),
          // another internal endpoint of the same host is no forward: symmetric, per remote
          checked(out(udp("10.0.0.10:51821", "192.0.2.200:4000"), Action::ToOutside),
                  [](const Seen& now, const std::vector<Seen>&) { CHECK(now.view.src.port != 51820); })}});
    run({"forward", "TCP: an unsolicited SYN from anywhere opens a connection to the server", c,
         {in(Pkt::tcp("203.0.113.7:1234", "198.51.100.254:8080", tcp_flag::Syn).bytes(), Action::ToInside,
             Pkt::tcp("203.0.113.7:1234", "10.0.0.11:80", tcp_flag::Syn).bytes()),
          out(Pkt::tcp("10.0.0.11:80", "203.0.113.7:1234", tcp_flag::Syn | tcp_flag::Ack).bytes(), Action::ToOutside,
              Pkt::tcp("198.51.100.254:8080", "203.0.113.7:1234", tcp_flag::Syn | tcp_flag::Ack).bytes())}});
}

TEST_CASE("a forward's inbound connections are bounded as any other inbound sessions") {
    NatConfig c = with_forwards(NatType::FullCone, {fwd(Proto::Tcp, ":8080", "10.0.0.11:80")});
    c.max_inbound_per_remote = 2;
    Translator t(c, 1);
    for (int i = 0; i < 3; ++i) {
        Bytes syn = Pkt::tcp(("203.0.113.7:" + std::to_string(1000 + i)).c_str(), "198.51.100.254:8080", tcp_flag::Syn).bytes();
        const Outcome o = t.process(syn, Direction::Inbound, 0);
        if (i < 2) CHECK(o.action == Action::ToInside);
        else CHECK(o.reason == Counter::drop_inbound_limit);
    }
    Bytes other = Pkt::tcp("203.0.113.8:1000", "198.51.100.254:8080", tcp_flag::Syn).bytes();
    CHECK(t.process(other, Direction::Inbound, 0).action == Action::ToInside);
}

TEST_CASE("a forward's port is reserved: never allocated, even with the pool exhausted; it outlives every sweep") {
    NatConfig c = with_forwards(NatType::FullCone, {fwd(Proto::Udp, ":2000", "10.0.0.10:51820"),
                                                    fwd(Proto::Udp, ":80", "10.0.0.12:80")}); // outside the pool
    c.pool.ports = PortSet::from_ranges({{1990, 2009}});
    c.per_host_mappings = 1;
    MappingTable t(c, 1);
    CHECK(t.mapping_count() == 2);
    // Not in the host quota: the server's host still gets its one dynamic mapping.
    Counter why{};
    REQUIRE(t.create(Proto::Udp, ep("10.0.0.10:3000"), ep("203.0.113.5:7000"), 0, why) != kNil);
    int made = 1;
    for (int h = 0; h < 40; ++h) {
        const MappingId m = t.create(Proto::Udp, {ip("10.0.1.1") + Ipv4(h), 2000}, ep("203.0.113.5:7000"), 0, why);
        if (m == kNil) break;
        CHECK(t.mapping(m).ext_port != 2000);
        ++made;
    }
    CHECK(made == 19);
    CHECK(why == Counter::drop_ports_exhausted);
    t.expire(1'000'000'000);
    CHECK(t.mapping_count() == 2);
    CHECK(t.find_inbound(Proto::Udp, ep("198.51.100.254:2000"), 1'000'000'000) != kNil);
    CHECK(t.find_inbound(Proto::Udp, ep("198.51.100.254:80"), 1'000'000'000) != kNil);
    CHECK(t.find_outbound(Proto::Udp, ep("10.0.0.10:51820"), ep("192.0.2.1:1"), 1'000'000'000) != kNil);
    CHECK(t.consistency_error() == "");
}

TEST_CASE("reconfigure: a forward follows the first address, appears and goes with the list, displaces a dynamic mapping") {
    const Ipv4 a = ip("198.51.100.1"), b = ip("198.51.100.2");
    NatConfig c = lab_config(NatType::PortRestrictedCone, {"198.51.100.1"});
    MappingTable t(c, 1);
    Recorder seen;
    t.set_observer(&seen);
    Counter why{};
    // Before the forward exists, the server's endpoint and the forward's port are dynamic.
    const MappingId server = t.create(Proto::Udp, ep("10.0.0.10:51820"), ep("203.0.113.5:7000"), 0, why);
    const MappingId squatter = t.create(Proto::Udp, ep("10.0.0.20:4500"), ep("203.0.113.5:7000"), 0, why);
    REQUIRE(server != kNil);
    REQUIRE(squatter != kNil);
    REQUIRE(t.mapping(squatter).external() == Endpoint{a, 4500});
    seen.reset();

    c.forwards = {fwd(Proto::Udp, ":4500", "10.0.0.10:51820")};
    t.reconfigure(c, 10);
    CHECK(seen.removed.size() == 2); // both gave way
    CHECK(seen.created == std::vector<Endpoint>{{a, 4500}});
    const MappingId f = t.find_inbound(Proto::Udp, {a, 4500}, 10);
    REQUIRE(f != kNil);
    CHECK(t.mapping(f).forward);
    CHECK(t.find_outbound(Proto::Udp, ep("10.0.0.10:51820"), ep("192.0.2.1:1"), 10) == f);
    CHECK(t.permits(f, ep("192.0.2.77:7"), 10));

    seen.reset();
    c.pool.external_addrs = {b, a}; // renumbered: the first address is now b
    t.reconfigure(c, 20);
    CHECK(seen.removed == std::vector<Endpoint>{{a, 4500}});
    CHECK(seen.created == std::vector<Endpoint>{{b, 4500}});
    CHECK(t.find_inbound(Proto::Udp, {b, 4500}, 20) != kNil);

    seen.reset();
    c.pool.external_addrs = {}; // no address: the forward waits
    t.reconfigure(c, 30);
    CHECK(t.mapping_count() == 0);
    c.pool.external_addrs = {a};
    t.reconfigure(c, 40);
    CHECK(t.find_inbound(Proto::Udp, {a, 4500}, 40) != kNil);

    seen.reset();
    t.reconfigure(c, 50); // unchanged: nothing happens
    CHECK(seen.created.empty());
    CHECK(seen.removed.empty());

    c.forwards.clear();
    t.reconfigure(c, 60);
    CHECK(seen.removed == std::vector<Endpoint>{{a, 4500}});
    CHECK(t.mapping_count() == 0);
    const MappingId again = t.create(Proto::Udp, ep("10.0.0.30:4500"), ep("203.0.113.5:7000"), 60, why);
    REQUIRE(again != kNil);
    CHECK(t.mapping(again).external() == Endpoint{a, 4500}); // the port is the pool's again
    CHECK(t.consistency_error() == "");
}

TEST_CASE("check_forwards: collisions, an address outside every external one, ICMP; messages name the forward") {
    NatConfig c = lab_config(NatType::FullCone, {"198.51.100.1", "198.51.100.2"});
    c.forwards = {fwd(Proto::Udp, ":51820", "192.168.1.10:51820"), fwd(Proto::Tcp, ":51820", "192.168.1.10:51820"),
                  fwd(Proto::Udp, "198.51.100.2:51820", "192.168.1.11:51820")};
    CHECK(check_forwards(c) == "");
    CHECK(validate(c) == "");
    CHECK(to_string(c.forwards[0]) == "udp:51820=192.168.1.10:51820");
    CHECK(to_string(c.forwards[2]) == "udp:198.51.100.2:51820=192.168.1.11:51820");

    NatConfig same_ext = c;
    same_ext.forwards.push_back(fwd(Proto::Udp, "198.51.100.1:51820", "192.168.1.12:1"));
    CHECK(check_forwards(same_ext) == "forward udp:198.51.100.1:51820=192.168.1.12:1 collides with forward "
                                      "udp:51820=192.168.1.10:51820 (the same external endpoint)");
    NatConfig same_int = c;
    same_int.forwards.push_back(fwd(Proto::Udp, ":4000", "192.168.1.10:51820"));
    CHECK(check_forwards(same_int) == "forward udp:4000=192.168.1.10:51820 collides with forward "
                                      "udp:51820=192.168.1.10:51820 (the same internal endpoint)");
    NatConfig outside = c;
    outside.forwards.push_back(fwd(Proto::Tcp, "203.0.113.1:80", "192.168.1.13:80"));
    CHECK(check_forwards(outside) == "forward tcp:203.0.113.1:80=192.168.1.13:80 lies outside every external address");
    NatConfig icmp = c;
    icmp.forwards.push_back(fwd(Proto::Icmp, ":7", "192.168.1.13:7"));
    CHECK(check_forwards(icmp).find("only udp and tcp") != std::string::npos);
    CHECK(validate(icmp) != "");
    NatConfig zero = c;
    zero.forwards.push_back(fwd(Proto::Tcp, ":0", "192.168.1.13:80"));
    CHECK(check_forwards(zero) == "forward tcp:0=192.168.1.13:80: port 0 cannot be forwarded");
}

} // TEST_SUITE
