// RFC 5508 (ICMP) conformance of the translator, as packet fixtures.
#include "tests/support/scenario.hpp"

#include <doctest/doctest.h>

using namespace conenat::core;
using namespace conenat::test;

namespace {

Bytes ping(const char* src, const char* dst, std::uint16_t id, bool reply = false) {
    return Pkt::icmp_echo(src, dst, id, reply).payload("abcdefgh").bytes();
}
Bytes udp(const char* src, const char* dst) { return Pkt::udp(src, dst).payload("payload!").bytes(); }
constexpr const char* R = "198.51.100.9";

} // namespace

TEST_SUITE("translator: ICMP") {

TEST_CASE("ICMP-1: echo goes out and its reply comes back; the identifier mapping is endpoint-independent") {
    run({"ICMP-1", "in1 pings Y1 and Y2 with id 0x1234", lab_config(NatType::PortRestrictedCone),
         {out(ping("10.0.0.2", "203.0.113.5", 0x1234), Action::ToOutside, ping(E1, "203.0.113.5", 0x1234)),
          out(ping("10.0.0.2", "203.0.113.6", 0x1234), Action::ToOutside, ping(E1, "203.0.113.6", 0x1234)),
          in(ping("203.0.113.5", E1, 0x1234, true), Action::ToInside, ping("203.0.113.5", "10.0.0.2", 0x1234, true)),
          in(ping("203.0.113.6", E1, 0x1234, true), Action::ToInside, ping("203.0.113.6", "10.0.0.2", 0x1234, true)),
          dropped(in(ping("203.0.113.7", E1, 0x1234, true), Action::Drop), Counter::drop_filtered)}});
    run({"ICMP-1", "two hosts with the same id get different external ids", lab_config(NatType::FullCone),
         {out(ping("10.0.0.2", "203.0.113.5", 0x1234), Action::ToOutside),
          checked(out(ping("10.0.0.3", "203.0.113.5", 0x1234), Action::ToOutside),
                  [](const Seen& now, const std::vector<Seen>&) { CHECK(now.view.src.port != 0x1234); })}});
}

TEST_CASE("ICMP-2: a query session lives 60 s") {
    run({"ICMP-2", "reply after 59 s arrives, after 60 s not", lab_config(NatType::FullCone),
         {out(ping("10.0.0.2", "203.0.113.5", 7777), Action::ToOutside),
          after(59'000, in(ping("203.0.113.5", E1, 7777, true), Action::ToInside)),
          after(1'000, dropped(in(ping("203.0.113.5", E1, 7777, true), Action::Drop), Counter::drop_no_mapping))}});
}

TEST_CASE("ICMP-4: an error from outside is restored to the internal form") {
    run({"ICMP-4", "R sends 3/3 quoting (E1:x' -> Y1:y)", lab_config(NatType::PortRestrictedCone),
         {out(udp("10.0.0.2:5000", "203.0.113.5:7000"), Action::ToOutside),
          in(Pkt::icmp_error(R, E1, 3, 3, udp("198.51.100.254:5000", "203.0.113.5:7000")).bytes(), Action::ToInside,
             Pkt::icmp_error(R, "10.0.0.2", 3, 3, udp("10.0.0.2:5000", "203.0.113.5:7000")).bytes()),
          dropped(in(Pkt::icmp_error(R, E1, 3, 3, udp("198.51.100.254:5001", "203.0.113.5:7000")).bytes(), Action::Drop),
                  Counter::drop_icmp_no_mapping),
          dropped(in(Pkt::icmp_error(R, E1, 3, 3, udp("198.51.100.254:5000", "203.0.113.6:7000")).bytes(), Action::Drop),
                  Counter::drop_icmp_no_mapping)}});
    run({"ICMP-4", "a whole quoted datagram (checksum quoted) and a quoted echo", lab_config(NatType::FullCone),
         {out(udp("10.0.0.2:5000", "203.0.113.5:7000"), Action::ToOutside),
          in(Pkt::icmp_error(R, E1, 11, 0, udp("198.51.100.254:5000", "203.0.113.5:7000"), 36).bytes(), Action::ToInside,
             Pkt::icmp_error(R, "10.0.0.2", 11, 0, udp("10.0.0.2:5000", "203.0.113.5:7000"), 36).bytes()),
          out(ping("10.0.0.2", "203.0.113.5", 0x4242), Action::ToOutside),
          in(Pkt::icmp_error(R, E1, 11, 0, ping(E1, "203.0.113.5", 0x4242), 36).bytes(), Action::ToInside,
             Pkt::icmp_error(R, "10.0.0.2", 11, 0, ping("10.0.0.2", "203.0.113.5", 0x4242), 36).bytes())}});
}

TEST_CASE("ICMP-3: bad errors are dropped; quoted IP options are stepped over") {
    Bytes bad_inner = udp("198.51.100.254:5000", "203.0.113.5:7000");
    bad_inner[10] ^= 0xff;
    run({"ICMP-3", "checksums and options", lab_config(NatType::FullCone),
         {out(udp("10.0.0.2:5000", "203.0.113.5:7000"), Action::ToOutside),
          dropped(in(Pkt::icmp_error(R, E1, 3, 3, udp("198.51.100.254:5000", "203.0.113.5:7000")).bad_l4_checksum().bytes(), Action::Drop),
                  Counter::drop_bad_checksum),
          dropped(in(Pkt::icmp_error(R, E1, 3, 3, bad_inner).bytes(), Action::Drop), Counter::drop_bad_checksum),
          in(Pkt::icmp_error(R, E1, 3, 3, Pkt::udp("198.51.100.254:5000", "203.0.113.5:7000").ip_options({1, 1, 1, 0}).payload("x").bytes()).bytes(),
             Action::ToInside,
             Pkt::icmp_error(R, "10.0.0.2", 3, 3, Pkt::udp("10.0.0.2:5000", "203.0.113.5:7000").ip_options({1, 1, 1, 0}).payload("x").bytes()).bytes())}});
}

TEST_CASE("ICMP-5: an error from inside gets the external form") {
    run({"ICMP-5", "in1 answers an inbound datagram with 3/3", lab_config(NatType::FullCone),
         {out(udp("10.0.0.2:5000", "203.0.113.5:7000"), Action::ToOutside),
          in(udp("203.0.113.6:8000", "198.51.100.254:5000"), Action::ToInside),
          out(Pkt::icmp_error("10.0.0.2", "203.0.113.6", 3, 3, udp("203.0.113.6:8000", "10.0.0.2:5000")).bytes(), Action::ToOutside,
              Pkt::icmp_error(E1, "203.0.113.6", 3, 3, udp("203.0.113.6:8000", "198.51.100.254:5000")).bytes()),
          dropped(out(Pkt::icmp_error("10.0.0.2", "203.0.113.6", 3, 3, udp("203.0.113.6:8000", "10.0.0.2:5999")).bytes(), Action::Drop),
                  Counter::drop_icmp_no_mapping)}});
}

TEST_CASE("ICMP-6, UPD-7.1: errors never refresh a session") {
    Scenario s{"ICMP-6", "errors quoting the echo every 10 s; the session still ends at 60 s", lab_config(NatType::FullCone),
               {out(ping("10.0.0.2", "203.0.113.5", 9999), Action::ToOutside)}};
    for (int i = 0; i < 5; ++i)
        s.steps.push_back(after(10'000, in(Pkt::icmp_error(R, E1, 11, 0, ping(E1, "203.0.113.5", 9999)).bytes(), Action::ToInside)));
    s.steps.push_back(after(10'000, dropped(in(ping("203.0.113.5", E1, 9999, true), Action::Drop), Counter::drop_no_mapping)));
    run(s);
    NatConfig c = lab_config(NatType::FullCone);
    c.timeouts.udp_ms = 120'000;
    run({"UPD-7.1", "in1 answers probes only with 3/3: the mapping still expires", c,
         {out(udp("10.0.0.2:5000", "203.0.113.5:7000"), Action::ToOutside),
          after(100'000, out(Pkt::icmp_error("10.0.0.2", "203.0.113.5", 3, 3, udp("203.0.113.5:7000", "10.0.0.2:5000")).bytes(), Action::ToOutside)),
          after(20'000, dropped(in(udp("203.0.113.5:7000", "198.51.100.254:5000"), Action::Drop), Counter::drop_no_mapping))}});
}

TEST_CASE("ICMP-7: hairpinned errors are translated both ways") {
    run({"ICMP-7", "in1 -> in2's mapping, in2's port is closed, in2 answers 3/3", lab_config(NatType::FullCone),
         {out(udp("10.0.0.3:6000", "198.51.100.1:3478"), Action::ToOutside),
          out(udp("10.0.0.2:5000", "198.51.100.254:6000"), Action::ToInside, udp("198.51.100.254:5000", "10.0.0.3:6000")),
          out(Pkt::icmp_error("10.0.0.3", E1, 3, 3, udp("198.51.100.254:5000", "10.0.0.3:6000")).bytes(), Action::ToInside,
              Pkt::icmp_error(E1, "10.0.0.2", 3, 3, udp("10.0.0.2:5000", "198.51.100.254:6000")).bytes())}});
}

} // TEST_SUITE
