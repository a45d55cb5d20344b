// RFC 6888 limits and exhaustion, and bad input, at the translator.
#include "tests/support/scenario.hpp"

#include <doctest/doctest.h>

using namespace conenat::core;
using namespace conenat::test;

namespace {

Bytes udp(const std::string& src, const char* dst = "203.0.113.5:7000") { return Pkt::udp(src, dst).payload("q").bytes(); }

const auto reply_is = [](std::uint8_t code, const char* to) {
    return [code, to](const Seen& now, const std::vector<Seen>&) {
        REQUIRE(!now.reply.empty());
        const PacketView v = parse_ipv4(now.reply);
        CHECK(v.kind == PacketKind::IcmpError);
        CHECK(v.icmp_type == 3);
        CHECK(v.icmp_code == code);
        CHECK(v.dst.addr == ip(to));
        CHECK(v.inner.src == ep("10.0.0.2:5002")); // the refused packet, as the host sent it
    };
};
const auto no_reply = [](const Seen& now, const std::vector<Seen>&) { CHECK(now.reply.empty()); };

} // namespace

TEST_SUITE("translator: limits") {

TEST_CASE("CGN-4, CGN-11: the per-host quota refuses the next flow, keeps the others, answers 3/13") {
    NatConfig c = lab_config(NatType::FullCone);
    c.per_host_mappings = 2;
    run({"CGN-4", "limit 2: the 3rd flow of in1 fails, in2 is unaffected, nothing is evicted", c,
         {out(udp("10.0.0.2:5000"), Action::ToOutside), out(udp("10.0.0.2:5001"), Action::ToOutside),
          checked(dropped(out(udp("10.0.0.2:5002"), Action::Drop), Counter::drop_host_quota), reply_is(13, "10.0.0.2")),
          out(udp("10.0.0.3:5000"), Action::ToOutside),
          in(udp("203.0.113.5:7000", "198.51.100.254:5000"), Action::ToInside),
          in(udp("203.0.113.5:7000", "198.51.100.254:5001"), Action::ToInside),
          out(udp("10.0.0.2:5000", "203.0.113.9:1"), Action::ToOutside)}});
}

TEST_CASE("CGN-11, ICMP-8: exhausted ports drop the packet; 3/13, 3/1 or nothing as configured") {
    for (auto [reply, code] : {std::pair{ExhaustedReply::AdminProhibited, 13}, {ExhaustedReply::HostUnreachable, 1}, {ExhaustedReply::None, 0}}) {
        NatConfig c = lab_config(NatType::FullCone);
        c.pool.ports = PortSet::from_ranges({{20000, 20001}});
        c.on_exhausted = reply;
        Step refused = dropped(out(udp("10.0.0.2:5002"), Action::Drop), Counter::drop_ports_exhausted);
        refused = reply == ExhaustedReply::None ? checked(refused, no_reply) : checked(refused, reply_is(std::uint8_t(code), "10.0.0.2"));
        run({"CGN-11", "pool of 2 ports, 3 flows", c,
             {out(udp("10.0.0.2:5000"), Action::ToOutside), out(udp("10.0.0.2:5001"), Action::ToOutside), refused,
              in(udp("203.0.113.5:7000", "198.51.100.254:20000"), Action::ToInside),
              in(udp("203.0.113.5:7000", "198.51.100.254:20001"), Action::ToInside)}});
    }
}

TEST_CASE("CGN-11: the global cap refuses new mappings and evicts nothing") {
    NatConfig c = lab_config(NatType::FullCone);
    c.max_mappings = 2;
    run({"CGN-11", "cap 2", c,
         {out(udp("10.0.0.2:5000"), Action::ToOutside), out(udp("10.0.0.3:5000"), Action::ToOutside),
          dropped(out(udp("10.0.0.2:5002"), Action::Drop), Counter::drop_mapping_cap),
          out(udp("10.0.0.2:5000", "203.0.113.77:1"), Action::ToOutside)}});
}

TEST_CASE("RFC 7422: a host outside every port block is refused") {
    NatConfig c = lab_config(NatType::FullCone);
    c.pool.ports = PortSet::from_ranges({{1024, 65535}});
    c.pool.block_size = 4032;
    c.pool.internal_base = ip("10.0.0.0");
    run({"RFC7422", "16 blocks of 4032 ports: host .2 gets block 2, host .200 none", c,
         {checked(out(udp("10.0.0.2:40000"), Action::ToOutside),
                  [](const Seen& now, const std::vector<Seen>&) {
                      CHECK(now.view.src.port >= 1024 + 2 * 4032);
                      CHECK(now.view.src.port < 1024 + 3 * 4032);
                  }),
          dropped(out(udp("10.0.0.200:5000"), Action::Drop), Counter::drop_no_port_block)}});
}

TEST_CASE("bad input is dropped and counted, never translated") {
    Bytes truncated = udp("10.0.0.2:5000");
    truncated.resize(15);
    run({"bad-input", "malformed, unsupported, fragments", lab_config(NatType::FullCone),
         {dropped(out(truncated, Action::Drop), Counter::drop_malformed),
          dropped(out(Pkt::udp("10.0.0.2:5000", "203.0.113.5:7000").bad_ip_checksum().bytes(), Action::Drop), Counter::drop_bad_checksum),
          dropped(out(Pkt::raw_ip("10.0.0.2", "203.0.113.5", 47).bytes(), Action::Drop), Counter::drop_unsupported),
          dropped(out(Pkt::udp("10.0.0.2:5000", "203.0.113.5:7000").frag_offset(10).bytes(), Action::Drop), Counter::drop_fragment),
          dropped(in(Pkt::icmp_echo("203.0.113.5", E1, 1).bytes(), Action::Drop), Counter::drop_unsupported),
          out(udp("10.0.0.2:5000"), Action::ToOutside)}});
}

TEST_CASE("counters: one per drop reason, readable") {
    Translator t(lab_config(NatType::FullCone), 7);
    Bytes p = udp("10.0.0.2:5000");
    CHECK(t.process(p, Direction::Outbound, 1).action == Action::ToOutside);
    Bytes q = Pkt::udp("203.0.113.5:7000", "198.51.100.254:5999").bytes();
    CHECK(t.process(q, Direction::Inbound, 2).action == Action::Drop);
    CHECK(t.counters()[Counter::translated_out] == 1);
    CHECK(t.counters()[Counter::drop_no_mapping] == 1);
    CHECK(t.counters()[Counter::mappings_created] == 1);
    CHECK(to_string(Counter::drop_no_mapping) == "drop_no_mapping");
}

} // TEST_SUITE
