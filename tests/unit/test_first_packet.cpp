// The first-packet decision (core/nat/first_packet.hpp) as the Translator and the conntrack
// engine both make it: fixtures of {config, packets before, the packet, expected decision}.
#include "conenat/core/nat/first_packet.hpp"
#include "tests/support/scenario.hpp"

#include <doctest/doctest.h>

#include <array>
#include <functional>

using namespace conenat::core;
using namespace conenat::test;

namespace {

// How a fixture's packet reaches the decision.
enum class Via : std::uint8_t {
    Sent,    // earlier outbound traffic: first_outbound, then the permit it leaves (refresh_outbound)
    Out,     // first_outbound
    In,      // first_inbound from outside
    Hairpin, // first_inbound from inside (to one of our external endpoints)
};

struct Check {
    Via via;
    Bytes packet;
    FirstAction action = FirstAction::Pass;
    Counter reason = Counter::translated_out;
};

struct Fixture {
    const char* what;
    NatConfig config;
    std::vector<Check> steps; // the last one is the decision under test; the others set it up
    std::function<void(MappingTable&, SynHold&, const Bytes& packet)> then = {};
};

Bytes udp(const char* src, const char* dst) { return Pkt::udp(src, dst).payload("q").bytes(); }
Bytes tcp(const char* src, const char* dst, std::uint8_t flags = tcp_flag::Syn) { return Pkt::tcp(src, dst, flags).bytes(); }

NatConfig with(NatType type, std::function<void(NatConfig&)> f = {}) {
    NatConfig c = lab_config(type);
    if (f) f(c);
    return c;
}

// Client 10.0.0.2:5000 talks to 203.0.113.5:7000 through E1:5000 (ports are preserved).
const Bytes kSent = udp("10.0.0.2:5000", "203.0.113.5:7000");
const Bytes kSentTcp = tcp("10.0.0.2:5000", "203.0.113.5:7000");

void run(const Fixture& f) {
    const std::string what = f.what;
    CAPTURE(what);
    MappingTable table(f.config, 1);
    SynHold holds(f.config.max_held_syns, f.config.max_held_syns_per_source);
    FirstPacket d;
    for (std::size_t i = 0; i < f.steps.size(); ++i) {
        CAPTURE(i);
        const Check& c = f.steps[i];
        const PacketView v = parse_ipv4(c.packet);
        d = c.via == Via::Sent || c.via == Via::Out ? first_outbound(table, v, 0)
                                                    : first_inbound(table, holds, c.packet, v, c.via == Via::Hairpin, 0);
        if (c.via == Via::Sent && d.action == FirstAction::Pass)
            REQUIRE(table.refresh_outbound(d.mapping, v.dst, 0));
        CHECK(d.action == c.action);
        CHECK(to_string(d.reason) == to_string(c.reason));
        CHECK((d.action == FirstAction::Pass) == (d.mapping != kNil));
        CHECK((d.action == FirstAction::Hold) == (d.token != 0));
    }
    if (f.then) f.then(table, holds, f.steps.back().packet);
}

Check sent(Bytes p) { return {Via::Sent, std::move(p)}; }
Check out(Bytes p, FirstAction a = FirstAction::Pass, Counter r = Counter::translated_out) { return {Via::Out, std::move(p), a, r}; }
Check in(Bytes p, FirstAction a = FirstAction::Pass, Counter r = Counter::translated_in) { return {Via::In, std::move(p), a, r}; }
Check hairpin(Bytes p, FirstAction a = FirstAction::Pass, Counter r = Counter::translated_in) {
    return {Via::Hairpin, std::move(p), a, r};
}
const auto mappings_are = [](std::uint32_t n) {
    return [n](MappingTable& t, SynHold&, const Bytes&) { CHECK(t.mapping_count() == n); };
};
const auto held_are = [](std::uint32_t n) { return [n](MappingTable&, SynHold& h, const Bytes&) { CHECK(h.size() == n); }; };
// RFC 6888 REQ-11: the refusal the sender gets (code; 0: none).
const auto refusal_is = [](std::uint8_t code) {
    return [code](MappingTable& t, SynHold&, const Bytes& p) {
        std::array<std::uint8_t, icmp::kErrorBytes> reply{};
        const std::size_t n = refusal_reply(t, p, parse_ipv4(p), reply);
        if (code == 0) {
            CHECK(n == 0);
            return;
        }
        const PacketView v = parse_ipv4(std::span(reply.data(), n));
        CHECK(v.kind == PacketKind::IcmpError);
        CHECK(v.icmp_code == code);
        CHECK(v.src.addr == ip(E1));
        CHECK(v.dst.addr == parse_ipv4(p).src.addr);
    };
};

} // namespace

TEST_SUITE("first packet") {

TEST_CASE("outbound: a new flow gets a mapping, a known one keeps it; what is not a flow is dropped") {
    const NatConfig cone = lab_config(NatType::FullCone);
    const Fixture fixtures[] = {
        {"new mapping", cone, {out(kSent)}, mappings_are(1)},
        {"known mapping (EIM: another remote)", cone, {sent(kSent), out(udp("10.0.0.2:5000", "192.0.2.9:1"))}, mappings_are(1)},
        {"APDM: another remote port is another mapping", lab_config(NatType::Symmetric),
         {sent(kSent), out(udp("10.0.0.2:5000", "203.0.113.5:7001"))}, mappings_are(2)},
        {"port 0 (RFC 4787 §4.2.1)", cone, {out(udp("10.0.0.2:0", "203.0.113.5:7000"), FirstAction::Drop, Counter::drop_port_zero)}, mappings_are(0)},
        {"ICMP echo reply outbound", cone,
         {out(Pkt::icmp_echo("10.0.0.2", "203.0.113.5", 7, true).bytes(), FirstAction::Drop, Counter::drop_unsupported)}},
        {"ICMP echo request", cone, {out(Pkt::icmp_echo("10.0.0.2", "203.0.113.5", 7).bytes())}, mappings_are(1)},
        {"a lone RST makes no mapping", cone,
         {out(tcp("10.0.0.2:5000", "203.0.113.5:7000", tcp_flag::Rst), FirstAction::Drop, Counter::drop_tcp_no_session)}, mappings_are(0)},
        {"other protocols", cone,
         {out(Pkt::raw_ip("10.0.0.2", "203.0.113.5", 47).bytes(), FirstAction::Drop, Counter::drop_unsupported)}},
        {"malformed", cone, {out(Bytes(12, 0x45), FirstAction::Drop, Counter::drop_malformed)}},
    };
    for (const Fixture& f : fixtures) run(f);
}

TEST_CASE("outbound at a limit: refused, nothing evicted, the sender told as configured (RFC 6888 REQ-11)") {
    const auto pool_of_one = [](ExhaustedReply r) {
        return with(NatType::FullCone, [r](NatConfig& c) {
            c.pool.ports = PortSet::from_ranges({{20000, 20000}});
            c.on_exhausted = r;
        });
    };
    const auto then_both = [](auto a, auto b) {
        return [a, b](MappingTable& t, SynHold& h, const Bytes& p) { a(t, h, p), b(t, h, p); };
    };
    const Bytes next = udp("10.0.0.3:5000", "203.0.113.5:7000");
    const Fixture fixtures[] = {
        {"exhausted pool, 3/13", pool_of_one(ExhaustedReply::AdminProhibited),
         {sent(kSent), out(next, FirstAction::Refuse, Counter::drop_ports_exhausted)}, then_both(refusal_is(13), mappings_are(1))},
        {"exhausted pool, 3/1", pool_of_one(ExhaustedReply::HostUnreachable),
         {sent(kSent), out(next, FirstAction::Refuse, Counter::drop_ports_exhausted)}, refusal_is(1)},
        {"exhausted pool, no reply", pool_of_one(ExhaustedReply::None),
         {sent(kSent), out(next, FirstAction::Refuse, Counter::drop_ports_exhausted)}, refusal_is(0)},
        {"per-host quota", with(NatType::FullCone, [](NatConfig& c) { c.per_host_mappings = 1; }),
         {sent(kSent), out(udp("10.0.0.2:5001", "203.0.113.5:7000"), FirstAction::Refuse, Counter::drop_host_quota)}},
        {"global cap", with(NatType::FullCone, [](NatConfig& c) { c.max_mappings = 1; }),
         {sent(kSent), out(next, FirstAction::Refuse, Counter::drop_mapping_cap)}},
    };
    for (const Fixture& f : fixtures) run(f);
}

TEST_CASE("inbound: the filter of each behaviour (RFC 4787 §5)") {
    const char* to = "198.51.100.254:5000";
    const Fixture fixtures[] = {
        {"EIF: anyone", lab_config(NatType::FullCone), {sent(kSent), in(udp("192.0.2.9:9", to))}},
        {"ADF: the address contacted, any port", lab_config(NatType::RestrictedCone), {sent(kSent), in(udp("203.0.113.5:9999", to))}},
        {"ADF: another address", lab_config(NatType::RestrictedCone),
         {sent(kSent), in(udp("192.0.2.9:7000", to), FirstAction::Drop, Counter::drop_filtered)}},
        {"APDF: the endpoint contacted", lab_config(NatType::PortRestrictedCone), {sent(kSent), in(udp("203.0.113.5:7000", to))}},
        {"APDF: another port", lab_config(NatType::PortRestrictedCone),
         {sent(kSent), in(udp("203.0.113.5:7001", to), FirstAction::Drop, Counter::drop_filtered)}},
        {"symmetric: the endpoint contacted", lab_config(NatType::Symmetric), {sent(kSent), in(udp("203.0.113.5:7000", to))}},
        {"no mapping", lab_config(NatType::FullCone),
         {sent(kSent), in(udp("192.0.2.9:9", "198.51.100.254:5001"), FirstAction::Drop, Counter::drop_no_mapping)}},
        {"port 0", lab_config(NatType::FullCone), {sent(kSent), in(udp("192.0.2.9:0", to), FirstAction::Drop, Counter::drop_port_zero)}},
        {"TCP under APDF: a SYN-ACK from elsewhere", lab_config(NatType::PortRestrictedCone),
         {sent(kSentTcp), in(tcp("203.0.113.5:7001", to, tcp_flag::Syn | tcp_flag::Ack), FirstAction::Drop, Counter::drop_filtered)}},
    };
    for (const Fixture& f : fixtures) run(f);
}

TEST_CASE("inbound: an unsolicited SYN is held (RFC 5382 REQ-4), within the hold's bounds") {
    const char* to = "198.51.100.254:5000";
    const NatConfig one_per_source = with(NatType::PortRestrictedCone, [](NatConfig& c) { c.max_held_syns_per_source = 1; });
    const Fixture fixtures[] = {
        {"no mapping", lab_config(NatType::FullCone), {in(tcp("192.0.2.9:9", to), FirstAction::Hold, Counter::syn_held)}, held_are(1)},
        {"filtered", lab_config(NatType::PortRestrictedCone),
         {sent(kSentTcp), in(tcp("203.0.113.5:7001", to), FirstAction::Hold, Counter::syn_held)}, held_are(1)},
        {"a retransmission is not held twice", lab_config(NatType::PortRestrictedCone),
         {in(tcp("192.0.2.9:9", to), FirstAction::Hold, Counter::syn_held),
          in(tcp("192.0.2.9:9", to), FirstAction::Drop, Counter::drop_syn_hold_full)}, held_are(1)},
        {"per source", one_per_source,
         {in(tcp("192.0.2.9:9", to), FirstAction::Hold, Counter::syn_held),
          in(tcp("192.0.2.9:10", to), FirstAction::Drop, Counter::drop_syn_hold_source)}, held_are(1)},
        {"in all", with(NatType::PortRestrictedCone, [](NatConfig& c) { c.max_held_syns = 1; }),
         {in(tcp("192.0.2.9:9", to), FirstAction::Hold, Counter::syn_held),
          in(tcp("192.0.2.8:9", to), FirstAction::Drop, Counter::drop_syn_hold_full)}, held_are(1)},
    };
    for (const Fixture& f : fixtures) run(f);
}

TEST_CASE("hairpin: the sender's mapping first, then the receiver's filter sees its external endpoint") {
    const char* b_ext = "198.51.100.254:5000";
    const char* a_ext = "198.51.100.254:6000";
    const Fixture fixtures[] = {
        {"EIF: passes, and the sender has a mapping", lab_config(NatType::FullCone),
         {sent(kSent), hairpin(udp("10.0.0.3:6000", b_ext))}, mappings_are(2)},
        {"APDF: the receiver never sent to the sender", lab_config(NatType::PortRestrictedCone),
         {sent(kSent), hairpin(udp("10.0.0.3:6000", b_ext), FirstAction::Drop, Counter::drop_filtered)}, mappings_are(2)},
        {"APDF: the receiver sent to the sender's external endpoint first", lab_config(NatType::PortRestrictedCone),
         {sent(udp("10.0.0.2:5000", a_ext)), sent(udp("10.0.0.3:6000", "203.0.113.9:1")), hairpin(udp("10.0.0.3:6000", b_ext))}},
        // ICE under APDF: both ends send at once. The first SYN is held at the receiver but opens
        // the sender's connection toward the receiver; for TCP under APDF that connection is the
        // permit, so the receiver's own SYN gets through (RFC 5382 REQ-8).
        {"TCP under APDF: the connection is the permit", lab_config(NatType::PortRestrictedCone),
         {sent(kSentTcp), sent(tcp("10.0.0.3:6000", "203.0.113.9:1")),
          hairpin(tcp("10.0.0.3:6000", b_ext), FirstAction::Hold, Counter::syn_held), hairpin(tcp("10.0.0.2:5000", a_ext))},
         held_are(1)},
        {"a full table refuses the sender's mapping: dropped, no refusal", with(NatType::FullCone, [](NatConfig& c) { c.max_mappings = 1; }),
         {sent(kSent), hairpin(udp("10.0.0.3:6000", b_ext), FirstAction::Drop, Counter::drop_mapping_cap)}},
    };
    for (const Fixture& f : fixtures) run(f);
}

} // TEST_SUITE
