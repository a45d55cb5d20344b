// RFC 5382 (TCP) and RFC 7857 §2 conformance of the translator, as packet fixtures.
#include "tests/support/scenario.hpp"

#include <doctest/doctest.h>

using namespace conenat::core;
using namespace conenat::test;
namespace f = conenat::core::tcp_flag;

namespace {

Bytes tcp(const char* src, const char* dst, std::uint8_t flags, std::uint32_t seq = 1000, std::uint32_t ack = 0) {
    return Pkt::tcp(src, dst, flags).seq(seq).ack(ack).bytes();
}
Bytes data(const char* src, const char* dst, std::uint32_t seq, std::uint32_t ack, std::string_view text = "data") {
    return Pkt::tcp(src, dst, f::Ack | f::Psh).seq(seq).ack(ack).payload(text).bytes();
}
constexpr const char* In1 = "10.0.0.2:5000";
constexpr const char* X1 = "198.51.100.254:5000";
constexpr const char* Y1 = "203.0.113.5:7000";

} // namespace

TEST_SUITE("translator: TCP") {

TEST_CASE("TCP-1: endpoint-independent mapping for TCP") {
    run({"TCP-1", "one local port connects to A1:P1 and A2:P2", lab_config(NatType::PortRestrictedCone),
         {out(tcp(In1, "198.51.100.1:3478", f::Syn), Action::ToOutside, tcp(X1, "198.51.100.1:3478", f::Syn)),
          out(tcp(In1, "198.51.100.2:3479", f::Syn), Action::ToOutside, tcp(X1, "198.51.100.2:3479", f::Syn))}});
}

TEST_CASE("TCP-2: every valid sequence passes: handshake, data, half-close, FIN from either side") {
    run({"TCP-2", "outbound open, half-close from inside, FIN from outside", lab_config(NatType::PortRestrictedCone),
         {out(tcp(In1, Y1, f::Syn, 100), Action::ToOutside, tcp(X1, Y1, f::Syn, 100)),
          in(tcp(Y1, X1, f::Syn | f::Ack, 500, 101), Action::ToInside, tcp(Y1, In1, f::Syn | f::Ack, 500, 101)),
          out(data(In1, Y1, 101, 501), Action::ToOutside, data(X1, Y1, 101, 501)),
          out(tcp(In1, Y1, f::Fin | f::Ack, 105, 501), Action::ToOutside),
          in(data(Y1, X1, 501, 106), Action::ToInside, data(Y1, In1, 501, 106)),
          in(tcp(Y1, X1, f::Fin | f::Ack, 505, 106), Action::ToInside),
          out(tcp(In1, Y1, f::Ack, 106, 506), Action::ToOutside)}});
    run({"TCP-2a", "simultaneous open: SYN out, SYN in, SYN-ACKs both ways, data", lab_config(NatType::PortRestrictedCone),
         {out(tcp(In1, Y1, f::Syn, 100), Action::ToOutside),
          in(tcp(Y1, X1, f::Syn, 500), Action::ToInside, tcp(Y1, In1, f::Syn, 500)),
          out(tcp(In1, Y1, f::Syn | f::Ack, 100, 501), Action::ToOutside),
          in(tcp(Y1, X1, f::Syn | f::Ack, 500, 101), Action::ToInside),
          out(data(In1, Y1, 101, 501), Action::ToOutside), in(data(Y1, X1, 501, 105), Action::ToInside)}});
}

TEST_CASE("TCP-4: an unsolicited SYN is held; an outbound SYN of that connection releases it") {
    const Bytes syn_in = tcp(Y1, X1, f::Syn, 500);
    run({"TCP-4", "inbound SYN first (hole punching), then the outbound SYN within 3 s", lab_config(NatType::PortRestrictedCone),
         {dropped(in(syn_in, Action::Hold), Counter::syn_held),
          checked(after(3'000, out(tcp(In1, Y1, f::Syn, 100), Action::ToOutside, tcp(X1, Y1, f::Syn, 100))),
                  [](const Seen& now, const std::vector<Seen>& before) {
                      CHECK(now.outcome.token != 0);
                      CHECK(now.outcome.token == before.at(0).outcome.token);
                  }),
          in(syn_in, Action::ToInside, tcp(Y1, In1, f::Syn, 500)),
          out(tcp(In1, Y1, f::Syn | f::Ack, 100, 501), Action::ToOutside),
          in(tcp(Y1, X1, f::Ack, 501, 101), Action::ToInside)}});
}

TEST_CASE("TCP-4: nothing is sent for 6 s; then ICMP 3/3 (configurable) or silence") {
    for (SynReply reply : {SynReply::PortUnreachable, SynReply::None}) {
        NatConfig c = lab_config(NatType::PortRestrictedCone);
        c.on_unsolicited_syn = reply;
        Translator t(c, 1);
        Bytes syn = tcp(Y1, X1, f::Syn, 500);
        const Bytes held = syn;
        const Outcome o = t.process(syn, Direction::Inbound, 10'000);
        REQUIRE(o.action == Action::Hold);
        CHECK(o.reply_len == 0);
        CHECK(t.next_expired_hold(10'000 + 5'999) == 0);
        CHECK(t.next_expired_hold(10'000 + 6'000) == o.token);
        CHECK(t.counters()[Counter::syn_hold_expired] == 1);
        Bytes reply_buf(576);
        const std::size_t n = t.unsolicited_syn_reply(held, reply_buf);
        if (reply == SynReply::None) {
            CHECK(n == 0);
            continue;
        }
        REQUIRE(n > 0);
        reply_buf.resize(n);
        CHECK(checksum_errors(reply_buf) == "");
        const PacketView v = parse_ipv4(reply_buf);
        CHECK(v.kind == PacketKind::IcmpError);
        CHECK(v.icmp_type == 3);
        CHECK(v.icmp_code == 3);
        CHECK(v.src.addr == ip(E1));
        CHECK(v.dst.addr == ip("203.0.113.5"));
    }
}

TEST_CASE("TCP-3: EIF lets any peer's SYN in, ADF only from contacted addresses") {
    run({"TCP-3", "full cone: Y2 reaches in1's mapping", lab_config(NatType::FullCone),
         {out(tcp(In1, Y1, f::Syn), Action::ToOutside),
          in(tcp("203.0.113.6:8000", X1, f::Syn, 9), Action::ToInside, tcp("203.0.113.6:8000", In1, f::Syn, 9))}});
    run({"TCP-3", "restricted cone: Y2 is held, another port of Y1 gets in", lab_config(NatType::RestrictedCone),
         {out(tcp(In1, Y1, f::Syn), Action::ToOutside),
          dropped(in(tcp("203.0.113.6:8000", X1, f::Syn, 9), Action::Hold), Counter::syn_held),
          in(tcp("203.0.113.5:7001", X1, f::Syn, 9), Action::ToInside)}});
    run({"TCP-3", "port-restricted cone: only the contacted endpoint", lab_config(NatType::PortRestrictedCone),
         {out(tcp(In1, Y1, f::Syn), Action::ToOutside),
          dropped(in(tcp("203.0.113.5:7001", X1, f::Syn, 9), Action::Hold), Counter::syn_held),
          dropped(in(tcp("203.0.113.5:7001", X1, f::Ack, 9), Action::Drop), Counter::drop_tcp_no_session)}});
}

TEST_CASE("TCP-5: established idle 2 h 3 min 59 s lives; transitory 3 min 59 s lives") {
    run({"TCP-5", "established", lab_config(NatType::PortRestrictedCone),
         {out(tcp(In1, Y1, f::Syn, 100), Action::ToOutside), in(tcp(Y1, X1, f::Syn | f::Ack, 500, 101), Action::ToInside),
          out(tcp(In1, Y1, f::Ack, 101, 501), Action::ToOutside),
          after(7'439'000, in(data(Y1, X1, 501, 101), Action::ToInside)),
          after(1'000, out(data(In1, Y1, 101, 505), Action::ToOutside)),
          after(7'440'000, dropped(in(data(Y1, X1, 505, 105), Action::Drop), Counter::drop_no_mapping))}});
    run({"TCP-5", "SYN sent, the SYN-ACK after 3 min 59 s", lab_config(NatType::PortRestrictedCone),
         {out(tcp(In1, Y1, f::Syn, 100), Action::ToOutside),
          after(239'000, in(tcp(Y1, X1, f::Syn | f::Ack, 500, 101), Action::ToInside))}});
    run({"TCP-5", "SYN sent, nothing for 4 min: gone", lab_config(NatType::PortRestrictedCone),
         {out(tcp(In1, Y1, f::Syn, 100), Action::ToOutside),
          after(240'000, dropped(in(tcp(Y1, X1, f::Syn | f::Ack, 500, 101), Action::Drop), Counter::drop_no_mapping))}});
}

TEST_CASE("UPD-TCP-3: RSTs are translated; genuine ones leave 4 min; off-path ones change nothing") {
    const auto established = std::vector<Step>{
        out(tcp(In1, Y1, f::Syn, 100), Action::ToOutside), in(tcp(Y1, X1, f::Syn | f::Ack, 500, 101), Action::ToInside),
        out(tcp(In1, Y1, f::Ack, 101, 501), Action::ToOutside)};
    Scenario genuine{"UPD-TCP-3", "in-window RST: kept 4 min, a packet within revives it", lab_config(NatType::PortRestrictedCone), established};
    genuine.steps.push_back(in(tcp(Y1, X1, f::Rst, 501), Action::ToInside, tcp(Y1, In1, f::Rst, 501)));
    genuine.steps.push_back(after(180'000, out(data(In1, Y1, 101, 501), Action::ToOutside)));
    genuine.steps.push_back(after(7'000'000, in(data(Y1, X1, 501, 105), Action::ToInside)));
    run(genuine);
    Scenario expiry{"UPD-TCP-3", "in-window RST then silence: gone after 4 min", lab_config(NatType::PortRestrictedCone), established};
    expiry.steps.push_back(in(tcp(Y1, X1, f::Rst, 501), Action::ToInside));
    expiry.steps.push_back(after(240'000, dropped(in(data(Y1, X1, 501, 105), Action::Drop), Counter::drop_no_mapping)));
    run(expiry);
    Scenario offpath{"UPD-TCP-3", "out-of-window RST is forwarded but the connection stays established", lab_config(NatType::PortRestrictedCone), established};
    offpath.steps.push_back(in(tcp(Y1, X1, f::Rst, 0x80000000u), Action::ToInside));
    offpath.steps.push_back(after(300'000, in(data(Y1, X1, 501, 101), Action::ToInside)));
    run(offpath);
    Scenario synsent{"UPD-TCP-3", "SYN-SENT: an RST must acknowledge the SYN", lab_config(NatType::PortRestrictedCone),
                     {out(tcp(In1, Y1, f::Syn, 100), Action::ToOutside),
                      in(tcp(Y1, X1, f::Rst | f::Ack, 0, 999), Action::ToInside),
                      after(200'000, in(tcp(Y1, X1, f::Syn | f::Ack, 500, 101), Action::ToInside)),
                      in(tcp(Y1, X1, f::Rst | f::Ack, 501, 101), Action::ToInside),
                      after(240'000, dropped(in(data(Y1, X1, 501, 101), Action::Drop), Counter::drop_no_mapping))}};
    run(synsent);
}

TEST_CASE("TCP-7: no port overloading for TCP") {
    run({"TCP-7", "in1:5000 and in2:5000 to A1:80", lab_config(NatType::FullCone),
         {out(tcp(In1, "198.51.100.1:80", f::Syn), Action::ToOutside, tcp(X1, "198.51.100.1:80", f::Syn)),
          checked(out(tcp("10.0.0.3:5000", "198.51.100.1:80", f::Syn), Action::ToOutside),
                  [](const Seen& now, const std::vector<Seen>&) { CHECK(now.view.src.port != 5000); })}});
}

TEST_CASE("TCP-8: TCP hairpinning with the external source") {
    run({"TCP-8", "in1 connects to in2's mapping E1:6000", lab_config(NatType::FullCone),
         {out(tcp("10.0.0.3:6000", "198.51.100.1:3478", f::Syn), Action::ToOutside),
          out(tcp(In1, "198.51.100.254:6000", f::Syn, 7), Action::ToInside, tcp(X1, "10.0.0.3:6000", f::Syn, 7)),
          out(tcp("10.0.0.3:6000", X1, f::Syn | f::Ack, 70, 8), Action::ToInside, tcp("198.51.100.254:6000", In1, f::Syn | f::Ack, 70, 8)),
          out(tcp(In1, "198.51.100.254:6000", f::Ack, 8, 71), Action::ToInside)}});
}

TEST_CASE("TCP-10: ICMP errors never end a connection") {
    Scenario s{"TCP-10", "3/3, 3/1, 11/0 for an established connection", lab_config(NatType::PortRestrictedCone),
               {out(tcp(In1, Y1, f::Syn, 100), Action::ToOutside), in(tcp(Y1, X1, f::Syn | f::Ack, 500, 101), Action::ToInside),
                out(tcp(In1, Y1, f::Ack, 101, 501), Action::ToOutside)}};
    const Bytes sent = data(X1, Y1, 101, 501);
    for (auto [type, code] : {std::pair{3, 3}, {3, 1}, {11, 0}})
        s.steps.push_back(in(Pkt::icmp_error("198.51.100.9", E1, std::uint8_t(type), std::uint8_t(code), sent).bytes(),
                             Action::ToInside,
                             Pkt::icmp_error("198.51.100.9", "10.0.0.2", std::uint8_t(type), std::uint8_t(code), data(In1, Y1, 101, 501)).bytes()));
    s.steps.push_back(out(data(In1, Y1, 101, 501), Action::ToOutside));
    s.steps.push_back(in(data(Y1, X1, 501, 105), Action::ToInside));
    run(s);
}

TEST_CASE("TCP-9: fragmentation needed from outside keeps its MTU and is restored") {
    const Bytes sent = data(X1, Y1, 101, 501);
    run({"TCP-9", "3/4 with MTU 1300", lab_config(NatType::FullCone),
         {out(tcp(In1, Y1, f::Syn, 100), Action::ToOutside),
          in(Pkt::icmp_error("198.51.100.9", E1, 3, 4, sent).mtu(1300).bytes(), Action::ToInside,
             Pkt::icmp_error("198.51.100.9", "10.0.0.2", 3, 4, data(In1, Y1, 101, 501)).mtu(1300).bytes())}});
}

} // TEST_SUITE
