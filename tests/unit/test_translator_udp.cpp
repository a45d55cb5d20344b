// RFC 4787 (UDP) and RFC 7857 conformance of the translator, as packet fixtures.
#include "tests/support/scenario.hpp"

#include <doctest/doctest.h>

using namespace conenat::core;
using namespace conenat::test;

namespace {

Bytes udp(const char* src, const char* dst, std::string_view payload = "stun") {
    return Pkt::udp(src, dst).payload(payload).bytes();
}
const auto same_port_as_first = [](const Seen& now, const std::vector<Seen>& before) {
    CHECK(now.view.src == before.at(0).view.src);
};
const auto new_port = [](const Seen& now, const std::vector<Seen>& before) {
    CHECK(now.view.src.addr == before.at(0).view.src.addr);
    CHECK(now.view.src.port != before.at(0).view.src.port);
};

NatConfig with_udp_timeout(NatType t, std::uint32_t ms) {
    NatConfig c = lab_config(t);
    c.timeouts.udp_ms = ms;
    return c;
}

} // namespace

TEST_SUITE("translator: UDP") {

TEST_CASE("UDP-1, UDP-11: one external endpoint per internal endpoint for every cone type") {
    for (NatType t : {NatType::FullCone, NatType::RestrictedCone, NatType::PortRestrictedCone}) {
        run({"UDP-1", std::string(to_string(t)) + ": RFC 5780 §4.3 sequence keeps X':x'", lab_config(t),
             {out(udp("10.0.0.2:5000", "198.51.100.1:3478"), Action::ToOutside, udp("198.51.100.254:5000", "198.51.100.1:3478")),
              out(udp("10.0.0.2:5000", "198.51.100.2:3478"), Action::ToOutside, udp("198.51.100.254:5000", "198.51.100.2:3478")),
              out(udp("10.0.0.2:5000", "198.51.100.2:3479"), Action::ToOutside, udp("198.51.100.254:5000", "198.51.100.2:3479"))}});
    }
    run({"UDP-1", "symmetric: a new external port per destination", lab_config(NatType::Symmetric),
         {out(udp("10.0.0.2:5000", "198.51.100.1:3478"), Action::ToOutside, udp("198.51.100.254:5000", "198.51.100.1:3478")),
          checked(out(udp("10.0.0.2:5000", "198.51.100.2:3478"), Action::ToOutside), new_port),
          checked(out(udp("10.0.0.2:5000", "198.51.100.1:3478"), Action::ToOutside), same_port_as_first)}});
}

TEST_CASE("UDP-8: filtering of each NAT type (RFC 5780 §4.4 tests II and III)") {
    const Bytes first = udp("10.0.0.2:5000", "198.51.100.1:3478");
    const Bytes from_other_addr = udp("198.51.100.2:3479", "198.51.100.254:5000");
    const Bytes from_other_port = udp("198.51.100.1:3479", "198.51.100.254:5000");
    const Bytes from_server = udp("198.51.100.1:3478", "198.51.100.254:5000");
    run({"UDP-8", "full cone: EIF", lab_config(NatType::FullCone),
         {out(first, Action::ToOutside),
          in(from_other_addr, Action::ToInside, udp("198.51.100.2:3479", "10.0.0.2:5000")),
          in(from_other_port, Action::ToInside, udp("198.51.100.1:3479", "10.0.0.2:5000"))}});
    run({"UDP-8", "restricted cone: ADF", lab_config(NatType::RestrictedCone),
         {out(first, Action::ToOutside),
          dropped(in(from_other_addr, Action::Drop), Counter::drop_filtered),
          in(from_other_port, Action::ToInside, udp("198.51.100.1:3479", "10.0.0.2:5000"))}});
    run({"UDP-8", "port-restricted cone: APDF", lab_config(NatType::PortRestrictedCone),
         {out(first, Action::ToOutside),
          dropped(in(from_other_addr, Action::Drop), Counter::drop_filtered),
          dropped(in(from_other_port, Action::Drop), Counter::drop_filtered),
          in(from_server, Action::ToInside, udp("198.51.100.1:3478", "10.0.0.2:5000"))}});
    run({"UDP-8", "symmetric: APDF on a per-destination mapping", lab_config(NatType::Symmetric),
         {out(first, Action::ToOutside),
          dropped(in(from_other_addr, Action::Drop), Counter::drop_filtered),
          dropped(in(from_other_port, Action::Drop), Counter::drop_filtered),
          in(from_server, Action::ToInside, udp("198.51.100.1:3478", "10.0.0.2:5000"))}});
    NatConfig adm_apdf = lab_config(NatType::FullCone);
    adm_apdf.udp = {Behaviour::AddressDependent, Behaviour::AddressAndPortDependent};
    run({"UDP-8", "ADM + APDF: permits per remote port on an address-dependent mapping", adm_apdf,
         {out(first, Action::ToOutside, udp("198.51.100.254:5000", "198.51.100.1:3478")),
          dropped(in(from_other_port, Action::Drop), Counter::drop_filtered),
          out(udp("10.0.0.2:5000", "198.51.100.1:3479"), Action::ToOutside, udp("198.51.100.254:5000", "198.51.100.1:3479")),
          in(from_other_port, Action::ToInside, udp("198.51.100.1:3479", "10.0.0.2:5000"))}});
}

TEST_CASE("UDP-3, UDP-11: two internal endpoints never share an external endpoint") {
    run({"UDP-3", "in1 and in2 both from port 5000 to A1:P1", lab_config(NatType::FullCone),
         {out(udp("10.0.0.2:5000", "198.51.100.1:3478"), Action::ToOutside, udp("198.51.100.254:5000", "198.51.100.1:3478")),
          checked(out(udp("10.0.0.3:5000", "198.51.100.1:3478"), Action::ToOutside), new_port),
          checked(out(udp("10.0.0.3:5000", "198.51.100.2:3479"), Action::ToOutside),
                  [](const Seen& now, const std::vector<Seen>& before) { CHECK(now.view.src == before.at(1).view.src); }),
          in(udp("198.51.100.1:3478", "198.51.100.254:5000"), Action::ToInside, udp("198.51.100.1:3478", "10.0.0.2:5000"))}});
}

TEST_CASE("UDP-5: a mapping lives the configured time and not a millisecond less") {
    run({"UDP-5", "default 300 s: idle 299.999 s still delivers (EIF), 300 s does not", lab_config(NatType::FullCone),
         {out(udp("10.0.0.2:5000", "198.51.100.1:3478"), Action::ToOutside),
          after(299'999, in(udp("203.0.113.5:7000", "198.51.100.254:5000"), Action::ToInside)),
          after(1, dropped(in(udp("203.0.113.5:7000", "198.51.100.254:5000"), Action::Drop), Counter::drop_no_mapping))}});
    run({"UDP-5", "configured 120 s: idle 119 s delivers", with_udp_timeout(NatType::FullCone, 120'000),
         {out(udp("10.0.0.2:5000", "198.51.100.1:3478"), Action::ToOutside),
          after(119'000, in(udp("203.0.113.5:7000", "198.51.100.254:5000"), Action::ToInside)),
          after(1'000, dropped(in(udp("203.0.113.5:7000", "198.51.100.254:5000"), Action::Drop), Counter::drop_no_mapping))}});
}

TEST_CASE("UDP-5a: a short timer for chosen well-known ports, never cutting a longer one short") {
    NatConfig c = lab_config(NatType::FullCone);
    c.timeouts.udp_short_ms = 10'000;
    c.timeouts.udp_short_ports[53] = true;
    const Bytes dns = udp("10.0.0.2:5000", "198.51.100.1:53");
    const Bytes other = udp("10.0.0.2:5000", "198.51.100.1:3478");
    const Bytes in_x = udp("203.0.113.5:7000", "198.51.100.254:5000");
    run({"UDP-5a", "traffic to port 53 only: the mapping lives 10 s", c,
         {out(dns, Action::ToOutside), after(9'999, in(in_x, Action::ToInside)),
          after(1, dropped(in(in_x, Action::Drop), Counter::drop_no_mapping))}});
    run({"UDP-5a", "a port-53 refresh after other traffic leaves the 300 s timer", c,
         {out(other, Action::ToOutside), after(1'000, out(dns, Action::ToOutside)),
          after(20'000, in(in_x, Action::ToInside)), after(278'999, in(in_x, Action::ToInside)),
          after(1, dropped(in(in_x, Action::Drop), Counter::drop_no_mapping))}});
    run({"UDP-5a", "other traffic after port 53 extends to 300 s", c,
         {out(dns, Action::ToOutside), after(5'000, out(other, Action::ToOutside)),
          after(299'999, in(in_x, Action::ToInside)), after(1, dropped(in(in_x, Action::Drop), Counter::drop_no_mapping))}});
    NatConfig prc = c;
    prc.set_type(NatType::PortRestrictedCone);
    run({"UDP-5a", "port-restricted: the permit for port 53 lives 10 s, the one for 3478 300 s", prc,
         {out(dns, Action::ToOutside), out(other, Action::ToOutside),
          after(10'000, dropped(in(udp("198.51.100.1:53", "198.51.100.254:5000"), Action::Drop), Counter::drop_filtered)),
          in(udp("198.51.100.1:3478", "198.51.100.254:5000"), Action::ToInside)}});
    NatConfig bad = c;
    bad.timeouts.udp_short_ports.reset();
    CHECK(std::string(validate(bad)).find("udp-short-ports") == 0);
}

TEST_CASE("UDP-6: outbound packets refresh, inbound ones do not") {
    const Bytes o = udp("10.0.0.2:5000", "198.51.100.1:3478");
    const Bytes x = udp("198.51.100.254:5000", "198.51.100.1:3478");
    const Bytes i = udp("198.51.100.1:3478", "198.51.100.254:5000");
    run({"UDP-6", "timer 120 s, outbound every 100 s keeps x'; inbound every 60 s does not", with_udp_timeout(NatType::FullCone, 120'000),
         {out(o, Action::ToOutside, x), after(100'000, out(o, Action::ToOutside, x)), after(100'000, out(o, Action::ToOutside, x)),
          after(100'000, out(o, Action::ToOutside, x)), after(60'000, in(i, Action::ToInside)),
          after(59'999, in(i, Action::ToInside)), after(1, dropped(in(i, Action::Drop), Counter::drop_no_mapping))}});
}

TEST_CASE("UPD-7: a refused inbound packet never refreshes the mapping") {
    run({"UPD-7", "port-restricted, timer 120 s, refused packets every 60 s", with_udp_timeout(NatType::PortRestrictedCone, 120'000),
         {out(udp("10.0.0.2:5000", "198.51.100.1:3478"), Action::ToOutside),
          after(60'000, dropped(in(udp("203.0.113.5:7000", "198.51.100.254:5000"), Action::Drop), Counter::drop_filtered)),
          after(59'000, dropped(in(udp("203.0.113.5:7000", "198.51.100.254:5000"), Action::Drop), Counter::drop_filtered)),
          after(1'000, dropped(in(udp("198.51.100.1:3478", "198.51.100.254:5000"), Action::Drop), Counter::drop_no_mapping))}});
}

TEST_CASE("UDP-9: hairpinning carries the sender's external endpoint") {
    run({"UDP-9", "full cone: in1 reaches in2 through E1:x2' and sees E1:x1'", lab_config(NatType::FullCone),
         {out(udp("10.0.0.3:6000", "198.51.100.1:3478"), Action::ToOutside, udp("198.51.100.254:6000", "198.51.100.1:3478")),
          out(udp("10.0.0.2:5000", "198.51.100.254:6000", "hi"), Action::ToInside, udp("198.51.100.254:5000", "10.0.0.3:6000", "hi")),
          out(udp("10.0.0.3:6000", "198.51.100.254:5000", "yo"), Action::ToInside, udp("198.51.100.254:6000", "10.0.0.2:5000", "yo"))}});
    run({"UDP-9", "port-restricted: hairpinned packets obey the filter too", lab_config(NatType::PortRestrictedCone),
         {out(udp("10.0.0.3:6000", "198.51.100.1:3478"), Action::ToOutside),
          dropped(out(udp("10.0.0.2:5000", "198.51.100.254:6000"), Action::Drop), Counter::drop_filtered),
          out(udp("10.0.0.3:6000", "198.51.100.254:5000", "yo"), Action::ToInside, udp("198.51.100.254:6000", "10.0.0.2:5000", "yo")),
          out(udp("10.0.0.2:5000", "198.51.100.254:6000", "hi"), Action::ToInside, udp("198.51.100.254:5000", "10.0.0.3:6000", "hi"))}});
}

TEST_CASE("UPD-5, UPD-6: mappings and filters are per protocol") {
    run({"UPD-5", "a UDP mapping does not take in TCP; a TCP mapping does not take in UDP", lab_config(NatType::FullCone),
         {out(udp("10.0.0.2:5000", "198.51.100.1:3478"), Action::ToOutside),
          dropped(in(Pkt::tcp("203.0.113.5:7000", "198.51.100.254:5000", tcp_flag::Ack).bytes(), Action::Drop), Counter::drop_no_mapping),
          out(Pkt::tcp("10.0.0.2:6000", "198.51.100.1:80", tcp_flag::Syn).bytes(), Action::ToOutside),
          dropped(in(udp("198.51.100.1:80", "198.51.100.254:6000"), Action::Drop), Counter::drop_no_mapping)}});
}

TEST_CASE("UDP-2, CGN-2: paired pooling keeps a host on one external address for every protocol") {
    const auto same_addr = [](const Seen& now, const std::vector<Seen>& before) {
        CHECK(now.view.src.addr == (before.empty() ? now : before.front()).view.src.addr);
    };
    Scenario s{"UDP-2", "pool E1+E2: 50 flows of one host, all on one address", lab_config(NatType::FullCone, {E1, E2}), {}};
    for (int i = 0; i < 50; ++i) {
        const std::string src = "10.0.0.2:" + std::to_string(10000 + i);
        const std::string dst = "203.0.113." + std::to_string(1 + i) + ":" + std::to_string(2000 + i);
        Bytes p = i % 3 == 0   ? Pkt::udp(src, dst).bytes()
                  : i % 3 == 1 ? Pkt::tcp(src, dst, tcp_flag::Syn).bytes()
                               : Pkt::icmp_echo("10.0.0.2", "203.0.113.1", std::uint16_t(3000 + i)).bytes();
        s.steps.push_back(checked(out(p, Action::ToOutside), same_addr));
    }
    run(s);
}

TEST_CASE("UDP-12: ICMP errors are translated inbound and never remove a mapping") {
    const Bytes o = udp("10.0.0.2:5000", "203.0.113.5:7000");
    const Bytes sent = udp("198.51.100.254:5000", "203.0.113.5:7000");
    const Bytes internal = udp("10.0.0.2:5000", "203.0.113.5:7000");
    Scenario s{"UDP-12", "R sends 3/3, 3/1, 11/0; the mapping and inbound delivery survive", lab_config(NatType::FullCone),
               {out(o, Action::ToOutside, sent)}};
    for (auto [type, code] : {std::pair{3, 3}, {3, 1}, {11, 0}})
        s.steps.push_back(in(Pkt::icmp_error("198.51.100.9", E1, std::uint8_t(type), std::uint8_t(code), sent).bytes(),
                             Action::ToInside,
                             Pkt::icmp_error("198.51.100.9", "10.0.0.2", std::uint8_t(type), std::uint8_t(code), internal).bytes()));
    s.steps.push_back(out(o, Action::ToOutside, sent));
    s.steps.push_back(in(udp("203.0.113.6:7001", "198.51.100.254:5000"), Action::ToInside));
    run(s);
}

TEST_CASE("CSUM-2: a UDP datagram without checksum leaves without checksum") {
    run({"CSUM-2", "checksum 0 stays 0 both ways", lab_config(NatType::FullCone),
         {out(Pkt::udp("10.0.0.2:5000", "198.51.100.1:3478").payload("x").udp_checksum_zero().bytes(), Action::ToOutside,
              Pkt::udp("198.51.100.254:5000", "198.51.100.1:3478").payload("x").udp_checksum_zero().bytes()),
          in(Pkt::udp("198.51.100.1:3478", "198.51.100.254:5000").payload("y").udp_checksum_zero().bytes(), Action::ToInside,
             Pkt::udp("198.51.100.1:3478", "10.0.0.2:5000").payload("y").udp_checksum_zero().bytes())}});
}

TEST_CASE("UDP-note: port 0 is dropped without touching other mappings") {
    run({"UDP-note", "source or destination port 0", lab_config(NatType::FullCone),
         {out(udp("10.0.0.2:5000", "198.51.100.1:3478"), Action::ToOutside),
          dropped(out(udp("10.0.0.2:0", "198.51.100.1:3478"), Action::Drop), Counter::drop_port_zero),
          dropped(in(udp("198.51.100.1:0", "198.51.100.254:5000"), Action::Drop), Counter::drop_port_zero),
          in(udp("198.51.100.1:3478", "198.51.100.254:5000"), Action::ToInside, udp("198.51.100.1:3478", "10.0.0.2:5000"))}});
}

TEST_CASE("MAP-1: every translated port lies in the MAP-E port set, parity kept") {
    NatConfig c = lab_config(NatType::FullCone);
    c.pool.ports = *PortSet::map_e(0x2c, 8, 4);
    const PortSet set = c.pool.ports;
    Scenario s{"MAP-1", "v6 plus a=4 k=8 PSID 0x2C: 100 flows", c, {}};
    for (int i = 0; i < 100; ++i) {
        const int port = 5000 + i * 7;
        s.steps.push_back(checked(out(udp(("10.0.0." + std::to_string(2 + i % 5) + ":" + std::to_string(port)).c_str(), "198.51.100.1:3478"), Action::ToOutside),
                                  [set, port](const Seen& now, const std::vector<Seen>&) {
                                      CHECK(set.contains(now.view.src.port));
                                      CHECK(now.view.src.port % 2 == port % 2);
                                  }));
    }
    run(s);
}

} // TEST_SUITE
