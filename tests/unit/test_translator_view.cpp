// PacketRef carries the PacketView out of process_batch (and takes one in): what the engines
// steer and hand off by after translation is what a fresh parse of the bytes would say.
#include "conenat/core/nat/translator.hpp"
#include "tests/support/packet_builder.hpp"
#include "tests/support/scenario.hpp"

#include <doctest/doctest.h>

using namespace conenat::core;
using namespace conenat::test;

namespace {

std::string text_of(Ipv4 a) {
    return std::to_string(a >> 24) + "." + std::to_string(a >> 16 & 255) + "." + std::to_string(a >> 8 & 255) + "." +
           std::to_string(a & 255);
}
std::string text_of(Endpoint e) { return text_of(e.addr) + ":" + std::to_string(e.port); }

void check_same(const PacketView& got, std::span<const std::uint8_t> bytes) {
    const PacketView want = parse_ipv4(bytes);
    CHECK(int(got.kind) == int(want.kind));
    CHECK(got.src == want.src);
    CHECK(got.dst == want.dst);
    CHECK(got.inner.src == want.inner.src);
    CHECK(got.inner.dst == want.inner.dst);
    CHECK(got.icmp_type == want.icmp_type);
}

// One batch of `pkts` in `dir`; every view out is checked against the translated bytes.
std::vector<PacketRef> batch(Translator& t, std::vector<Bytes>& pkts, Direction dir, bool pre_parsed) {
    std::vector<PacketRef> refs(pkts.size());
    for (std::size_t i = 0; i < pkts.size(); ++i) {
        refs[i].bytes = pkts[i];
        if (pre_parsed) {
            refs[i].view = parse_ipv4(pkts[i]);
            refs[i].parsed = true;
        }
    }
    t.process_batch(refs, dir, 100);
    for (std::size_t i = 0; i < refs.size(); ++i) {
        CAPTURE(i);
        CHECK(refs[i].parsed);
        check_same(refs[i].view, pkts[i]);
    }
    return refs;
}

} // namespace

TEST_SUITE("translator: packet views out") {

TEST_CASE("translated, dropped and hairpinned packets come back with their view") {
    for (bool pre_parsed : {false, true}) {
        CAPTURE(pre_parsed);
        Translator t(lab_config(NatType::FullCone), 1);
        std::vector<Bytes> out = {
            Pkt::udp("10.0.0.2:5000", "203.0.113.5:53").bytes(),
            Pkt::tcp("10.0.0.3:6000", "203.0.113.5:80", tcp_flag::Syn).bytes(),
            Pkt::icmp_echo("10.0.0.2", "203.0.113.5", 9).bytes(),
            Pkt::udp("10.0.0.4:7000", "198.51.100.254:1").bytes(), // hairpin to a port nobody has
        };
        const auto refs = batch(t, out, Direction::Outbound, pre_parsed);
        CHECK(int(refs[0].outcome.action) == int(Action::ToOutside));
        CHECK(int(refs[3].outcome.action) == int(Action::Drop));
        CHECK(refs[3].view.src.addr == ip(E1)); // after its outbound half
        std::vector<Bytes> in = {
            Pkt::udp("203.0.113.5:53", text_of(refs[0].view.src)).bytes(),
            Pkt::udp("203.0.113.9:53", "198.51.100.254:2").bytes(), // no mapping
            Pkt::icmp_error("203.0.113.5", text_of(refs[0].view.src.addr), 3, 3, out[0]).bytes(),
        };
        const auto back = batch(t, in, Direction::Inbound, pre_parsed);
        CHECK(int(back[0].outcome.action) == int(Action::ToInside));
        CHECK(back[0].view.dst == ep("10.0.0.2:5000"));
    }
}

} // TEST_SUITE
