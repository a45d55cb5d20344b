// Issue 8 at the translator: records met after their timers ran out but before a sweep (the
// engines' lazy schedule) are never freed under their caller; what the outside can open is
// bounded; an RST counts only inside the inside's advertised window.
#include "tests/support/scenario.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>

using namespace conenat::core;
using namespace conenat::test;
namespace f = conenat::core::tcp_flag;

namespace {

Bytes syn(const std::string& src, const std::string& dst, std::uint32_t seq = 100) {
    return Pkt::tcp(src, dst, f::Syn).seq(seq).bytes();
}
Bytes seg(const std::string& src, const std::string& dst, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
          std::uint16_t window = 65535) {
    return Pkt::tcp(src, dst, flags).seq(seq).ack(ack).window(window).bytes();
}
std::string host(int i) { return "10.0.0." + std::to_string(i); }

// Drives a translator only as the engines do: process() alone (its budgeted per-packet sweep),
// and expire() when asked. Checks the table and an outside record after every packet.
struct Lazy {
    explicit Lazy(NatConfig c) : t(c, 7) {}
    Outcome send(Bytes& p, Direction d, TimeMs now) {
        const Bytes before = p;
        const Outcome o = t.process(p, d, now);
        CHECK(t.table().consistency_error() == "");
        const PacketView in = parse_ipv4(before), v = parse_ipv4(p);
        if (d == Direction::Outbound && o.action == Action::ToOutside && in.kind == PacketKind::Tcp) {
            // Outside record: an external endpoint seen now must not belong to another inside endpoint
            // whose mapping is still live in the table.
            const std::string ext = std::to_string(v.src.addr) + ":" + std::to_string(v.src.port);
            const std::string inside = std::to_string(in.src.addr) + ":" + std::to_string(in.src.port);
            auto [it, fresh] = owner.emplace(ext, inside);
            if (!fresh && it->second != inside) {
                const MappingId prev = t.table().find_outbound(Proto::Tcp, ep_of(it->second), {}, now);
                CHECK_MESSAGE(prev == kNil, ext, " used by ", inside, " while ", it->second, " still owns it");
                it->second = inside;
            }
        }
        return o;
    }
    static Endpoint ep_of(const std::string& s) {
        const auto colon = s.find(':');
        return {Ipv4(std::stoul(s.substr(0, colon))), std::uint16_t(std::stoul(s.substr(colon + 1)))};
    }
    Translator t;
    std::map<std::string, std::string> owner;
};

NatConfig config(NatType type) {
    NatConfig c = lab_config(type);
    c.timeouts.tcp_transitory_ms = 240'000;
    return c;
}

} // namespace

TEST_SUITE("translator: lifetimes under lazy sweeps") {

TEST_CASE("nine connections of one millisecond, met again 240 s later before any sweep: nothing freed under a caller") {
    Lazy n(config(NatType::FullCone));
    const TimeMs t0 = 1'000'000;
    for (int i = 2; i <= 10; ++i) {
        Bytes p = syn(host(i) + ":4000", "203.0.113.5:80");
        REQUIRE(n.send(p, Direction::Outbound, t0).action == Action::ToOutside);
    }
    CHECK(n.t.table().mapping_count() == 9);
    // The per-packet budget (8) frees eight expired sessions; the ninth host meets its own
    // expired mapping and session in the lookups.
    Bytes again = syn(host(10) + ":4000", "203.0.113.5:80", 900);
    CHECK(n.send(again, Direction::Outbound, t0 + 240'000).action == Action::ToOutside);
    // Every host comes back; none is given an endpoint another live mapping holds.
    for (int i = 2; i <= 10; ++i) {
        Bytes p = syn(host(i) + ":4000", "203.0.113.6:80", 1000);
        CHECK(n.send(p, Direction::Outbound, t0 + 240'001).action == Action::ToOutside);
    }
    CHECK(n.t.table().mapping_count() == 9);
}

TEST_CASE("an outside SYN to an idle full-cone mapping whose only connection expired unswept is refused") {
    for (bool sweep : {false, true}) {
        CAPTURE(sweep);
        Lazy n(config(NatType::FullCone));
        const TimeMs t0 = 1'000'000;
        // Nine expired connections so that the per-packet budget cannot clean them all.
        for (int i = 2; i <= 10; ++i) {
            Bytes p = syn(host(i) + ":4000", "203.0.113.5:80");
            REQUIRE(n.send(p, Direction::Outbound, t0).action == Action::ToOutside);
        }
        const Endpoint ext = n.t.table().mapping(n.t.table().find_outbound(Proto::Tcp, ep("10.0.0.10:4000"), {}, t0)).external();
        if (sweep) n.t.expire(t0 + 240'000);
        const std::string to = "198.51.100.254:" + std::to_string(ext.port);
        Bytes in = syn("203.0.113.9:5555", to, 7);
        // Dead mapping: the SYN is held (nobody inside asked for it), as if it had been swept.
        CHECK(n.send(in, Direction::Inbound, t0 + 240'000).action == Action::Hold);
        // Another host now gets a mapping; never the dead one's endpoint while it is unswept.
        Bytes other = syn("10.0.0.20:4000", "203.0.113.5:80");
        CHECK(n.send(other, Direction::Outbound, t0 + 240'000).action == Action::ToOutside);
        // Positive control: a live full-cone mapping does let the outside SYN in.
        Bytes live_in = syn("203.0.113.9:5556", "198.51.100.254:" + std::to_string(parse_ipv4(other).src.port), 8);
        CHECK(n.send(live_in, Direction::Inbound, t0 + 240'001).action == Action::ToInside);
    }
}

TEST_CASE("a connection keeps its mapping alive exactly as long as it lives, swept or not") {
    for (bool sweep : {false, true}) {
        CAPTURE(sweep);
        NatConfig c = config(NatType::FullCone);
        Lazy n(c);
        const TimeMs t0 = 1'000'000;
        Bytes s = syn("10.0.0.2:4000", "203.0.113.5:80", 100);
        REQUIRE(n.send(s, Direction::Outbound, t0).action == Action::ToOutside);
        const std::string x = "198.51.100.254:" + std::to_string(parse_ipv4(s).src.port);
        Bytes sa = seg("203.0.113.5:80", x, f::Syn | f::Ack, 500, 101);
        REQUIRE(n.send(sa, Direction::Inbound, t0 + 1).action == Action::ToInside);
        Bytes a = seg("10.0.0.2:4000", "203.0.113.5:80", f::Ack, 101, 501);
        REQUIRE(n.send(a, Direction::Outbound, t0 + 2).action == Action::ToOutside); // established: 2 h 4 min
        // The mapping's own timer (4 min) is long over; the connection holds it.
        const TimeMs later = t0 + 2 + 3'600'000;
        if (sweep) n.t.expire(later);
        Bytes d = seg("203.0.113.5:80", x, f::Ack, 501, 101);
        CHECK(n.send(d, Direction::Inbound, later).action == Action::ToInside);
        // FIN from outside: transitory, 4 min from the outbound ACK of it.
        Bytes fin = seg("203.0.113.5:80", x, f::Fin | f::Ack, 501, 101);
        REQUIRE(n.send(fin, Direction::Inbound, later + 1).action == Action::ToInside);
        Bytes fin2 = seg("10.0.0.2:4000", "203.0.113.5:80", f::Fin | f::Ack, 101, 502);
        REQUIRE(n.send(fin2, Direction::Outbound, later + 2).action == Action::ToOutside);
        const TimeMs gone = later + 2 + c.timeouts.tcp_transitory_ms;
        CHECK(n.t.table().find_inbound(Proto::Tcp, ep(x), gone - 1) != kNil); // positive control
        if (sweep) n.t.expire(gone);
        Bytes late = syn("203.0.113.7:1", x, 9);
        CHECK(n.send(late, Direction::Inbound, gone).action == Action::Hold); // mapping gone
    }
}

} // TEST_SUITE

TEST_SUITE("translator: the outside is bounded") {

TEST_CASE("SYNs from one remote with many source ports open at most max_inbound_per_remote sessions") {
    NatConfig c = config(NatType::FullCone);
    c.max_inbound_per_remote = 16;
    Translator t(c, 3);
    Bytes o = syn("10.0.0.2:4000", "203.0.113.5:80");
    REQUIRE(t.process(o, Direction::Outbound, 1000).action == Action::ToOutside);
    const std::string x = "198.51.100.254:" + std::to_string(parse_ipv4(o).src.port);
    int passed = 0;
    for (int port = 10000; port < 10100; ++port) {
        Bytes s = syn("203.0.113.66:" + std::to_string(port), x, 5);
        passed += t.process(s, Direction::Inbound, 1000 + port).action == Action::ToInside;
    }
    CHECK(passed == 16);
    CHECK(t.counters()[Counter::drop_inbound_limit] == 84);
    CHECK(t.table().inbound_sessions_of(ip("203.0.113.66")) == 16);
    // Another remote still gets in; the LAN host still opens connections.
    Bytes s = syn("203.0.113.67:1", x, 5);
    CHECK(t.process(s, Direction::Inbound, 20'000).action == Action::ToInside);
    for (int i = 0; i < 100; ++i) {
        Bytes p = syn("10.0.0.2:" + std::to_string(20000 + i), "203.0.113.5:80");
        CHECK(t.process(p, Direction::Outbound, 20'001).action == Action::ToOutside);
    }
    CHECK(t.table().consistency_error() == "");
    // The bound is on sessions that live: once they expire, the remote may open again.
    t.expire(20'000 + c.timeouts.tcp_transitory_ms + 1);
    Bytes again = syn("203.0.113.66:9", x, 5);
    CHECK(t.process(again, Direction::Inbound, 20'000 + c.timeouts.tcp_transitory_ms + 1).action == Action::Hold);
}

TEST_CASE("per mapping and in all: many remotes cannot take the LAN's session room") {
    NatConfig c = config(NatType::FullCone);
    c.max_inbound_per_mapping = 40;
    c.max_sessions = 128; // inbound may use at most 64
    Translator t(c, 3);
    std::vector<std::string> ext;
    for (int i = 0; i < 3; ++i) {
        Bytes o = syn("10.0.0.2:" + std::to_string(4000 + i), "203.0.113.5:80");
        REQUIRE(t.process(o, Direction::Outbound, 1000).action == Action::ToOutside);
        ext.push_back("198.51.100.254:" + std::to_string(parse_ipv4(o).src.port));
    }
    int passed = 0;
    for (int r = 0; r < 60; ++r) {
        Bytes s = syn("192.0.2." + std::to_string(r + 1) + ":1000", ext[0], 5);
        passed += t.process(s, Direction::Inbound, 2000).action == Action::ToInside;
    }
    CHECK(passed == 40); // per mapping
    passed = 0;
    for (int r = 0; r < 60; ++r) {
        Bytes s = syn("192.0.2." + std::to_string(r + 1) + ":1000", ext[1], 5);
        passed += t.process(s, Direction::Inbound, 2000).action == Action::ToInside;
    }
    CHECK(passed == 24); // half the table in all
    CHECK(t.table().inbound_session_count() == 64);
    // The LAN keeps the other half.
    int opened = 0;
    for (int i = 0; i < 50; ++i) {
        Bytes p = syn("10.0.0.3:" + std::to_string(30000 + i), "203.0.113.5:80");
        opened += t.process(p, Direction::Outbound, 3000).action == Action::ToOutside;
    }
    CHECK(opened == 50);
    CHECK(t.table().consistency_error() == "");
}

TEST_CASE("kernel flows opened from outside are bounded the same way (conntrack engine)") {
    NatConfig c = config(NatType::FullCone);
    c.max_inbound_per_remote = 4;
    MappingTable t(c, 1);
    Counter why{};
    const MappingId m = t.create(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), 0, why);
    REQUIRE(m != kNil);
    int begun = 0;
    for (int port = 1; port <= 10; ++port)
        begun += t.flow_begin(m, {ip("203.0.113.9"), std::uint16_t(port)}, 0, Direction::Inbound);
    CHECK(begun == 4);
    CHECK(t.counters()[Counter::drop_inbound_limit] == 6);
    // Outbound-opened flows are the LAN's: never bounded by this.
    for (int port = 1; port <= 10; ++port) CHECK(t.flow_begin(m, {ip("203.0.113.10"), std::uint16_t(port)}, 0));
    for (int port = 1; port <= 10; ++port) t.flow_end(m, {ip("203.0.113.9"), std::uint16_t(port)}, 5);
    CHECK(t.inbound_sessions_of(ip("203.0.113.9")) == 4); // ended, timers running
    t.expire(5 + c.timeouts.udp_ms);
    CHECK(t.inbound_sessions_of(ip("203.0.113.9")) == 0);
    CHECK(t.consistency_error() == "");
}

TEST_CASE("TCP-4 under a flood: one source holds at most max_held_syns_per_source SYNs; others still hold") {
    NatConfig c = config(NatType::PortRestrictedCone);
    Translator t(c, 3);
    int held = 0;
    for (int port = 1; port <= 50; ++port) {
        Bytes s = syn("203.0.113.66:" + std::to_string(port), "198.51.100.254:" + std::to_string(30000 + port), 5);
        held += t.process(s, Direction::Inbound, 1000).action == Action::Hold;
    }
    CHECK(held == int(c.max_held_syns_per_source));
    CHECK(t.counters()[Counter::drop_syn_hold_source] == 50 - c.max_held_syns_per_source);
    // Simultaneous open from another peer still works.
    Bytes s = syn("203.0.113.5:7000", "198.51.100.254:5000", 500);
    const Outcome h = t.process(s, Direction::Inbound, 1001);
    REQUIRE(h.action == Action::Hold);
    Bytes o = syn("10.0.0.2:5000", "203.0.113.5:7000", 100);
    CHECK(t.process(o, Direction::Outbound, 1002).token == h.token);
}

TEST_CASE("RFC 6888 REQ-4: a per-host quota is on by default") {
    CHECK(NatConfig{}.per_host_mappings == 4096);
    NatConfig c = config(NatType::FullCone);
    c.max_mappings = 8192;
    c.max_sessions = 8192;
    Translator t(c, 3);
    int ok = 0;
    for (int i = 0; i < 4100; ++i) {
        Bytes p = Pkt::udp("10.0.0.2:" + std::to_string(10000 + i), "203.0.113.5:7000").bytes();
        ok += t.process(p, Direction::Outbound, 1000).action == Action::ToOutside;
    }
    CHECK(ok == 4096);
    CHECK(t.counters()[Counter::drop_host_quota] == 4);
    Bytes other = Pkt::udp("10.0.0.3:10000", "203.0.113.5:7000").bytes();
    CHECK(t.process(other, Direction::Outbound, 1000).action == Action::ToOutside);
}

} // TEST_SUITE

TEST_SUITE("translator: RST in the window") {

// An established connection: the inside offers scale `in_shift`, the remote `remote_shift`
// (-1: no option), and the inside's last ACK is 501 with a window of 1000 units.
struct Established {
    Translator t;
    std::string x;
    explicit Established(int in_shift, int remote_shift) : t(config(NatType::PortRestrictedCone), 3) {
        Pkt s = Pkt::tcp("10.0.0.2:4000", "203.0.113.5:80", f::Syn).seq(100);
        if (in_shift >= 0) s.window_scale(std::uint8_t(in_shift));
        Bytes sb = s.bytes();
        REQUIRE(t.process(sb, Direction::Outbound, 1000).action == Action::ToOutside);
        x = "198.51.100.254:" + std::to_string(parse_ipv4(sb).src.port);
        Pkt sa = Pkt::tcp("203.0.113.5:80", x, f::Syn | f::Ack).seq(500).ack(101);
        if (remote_shift >= 0) sa.window_scale(std::uint8_t(remote_shift));
        Bytes sab = sa.bytes();
        REQUIRE(t.process(sab, Direction::Inbound, 1001).action == Action::ToInside);
        Bytes a = seg("10.0.0.2:4000", "203.0.113.5:80", f::Ack, 101, 501, 1000);
        REQUIRE(t.process(a, Direction::Outbound, 1002).action == Action::ToOutside);
    }
    // Whether an RST with this sequence number ended the connection (transitory: gone 4 min later).
    bool resets(std::uint32_t seq) {
        Bytes r = seg("203.0.113.5:80", x, f::Rst, seq, 0);
        CHECK(t.process(r, Direction::Inbound, 2000).action == Action::ToInside); // forwarded either way
        Bytes d = seg("203.0.113.5:80", x, f::Ack, 501, 101);
        return t.process(d, Direction::Inbound, 2000 + 240'001).action != Action::ToInside;
    }
};

TEST_CASE("window scaling negotiated: the window is 1000 << 7") {
    CHECK(Established(7, 8).resets(501));
    CHECK(Established(7, 8).resets(501 + (1000u << 7) - 1));
    Established e(7, 8);
    CHECK_FALSE(e.resets(501 + (1000u << 7)));
    CHECK(e.t.counters()[Counter::rst_out_of_window] == 1);
    CHECK_FALSE(Established(7, 8).resets(500)); // just before RCV.NXT
}

TEST_CASE("scaling offered by one side only: the window is not scaled") {
    CHECK(Established(7, -1).resets(501 + 999));
    CHECK_FALSE(Established(7, -1).resets(501 + 1000));
    CHECK(Established(-1, 8).resets(501 + 999));
    CHECK_FALSE(Established(-1, 8).resets(501 + 1000));
}

TEST_CASE("256 blind RSTs spread over the sequence space do not move an idle connection") {
    Established e(7, 7);
    for (std::uint32_t i = 0; i < 256; ++i) {
        Bytes r = seg("203.0.113.5:80", e.x, f::Rst, 0x01000000u * i + 12345, 0);
        e.t.process(r, Direction::Inbound, 2000);
    }
    // At most the one guess that fell in the 128 000-byte window may count.
    CHECK(e.t.counters()[Counter::rst_out_of_window] >= 255);
}

} // TEST_SUITE
