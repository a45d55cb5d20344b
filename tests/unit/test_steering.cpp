// The software engines' steering decisions (steering.hpp) and their hand-off ring
// (handoff_ring.hpp): which worker owns a packet, which packets are the router's own, and
// records passed between two threads arriving whole and in order.
#include "src/engine/software/handoff_ring.hpp"
#include "src/engine/software/steering.hpp"

#include "conenat/core/packet/parse.hpp"
#include "tests/support/packet_builder.hpp"

#include <doctest/doctest.h>

#include <thread>
#include <vector>

using namespace conenat;
using namespace conenat::test;

namespace {
const core::Ipv4 kExternal = 0xc63364fe; // 198.51.100.254
bool external(core::Ipv4 a) { return a == kExternal; }
std::optional<std::uint16_t> key_of(const Bytes& p) { return engine::inbound_key(core::parse_ipv4(p), external); }
} // namespace

TEST_SUITE("software engine steering") {

TEST_CASE("an inbound packet names its external port: destination port, echo id, quoted source port") {
    CHECK(key_of(Pkt::udp("203.0.113.5:53", "198.51.100.254:40000").bytes()) == 40000);
    CHECK(key_of(Pkt::tcp("203.0.113.5:80", "198.51.100.254:40001", 0x12).bytes()) == 40001);
    CHECK(key_of(Pkt::icmp_echo("203.0.113.5", "198.51.100.254", 40002, true).bytes()) == 40002);
    const Bytes sent = Pkt::udp("198.51.100.254:40003", "203.0.113.5:53").bytes();
    CHECK(key_of(Pkt::icmp_error("198.51.100.1", "198.51.100.254", 11, 0, sent).bytes()) == 40003);
    // An error about a packet that did not leave from our address is not ours to route.
    const Bytes other = Pkt::udp("198.51.100.7:40004", "203.0.113.5:53").bytes();
    CHECK(!key_of(Pkt::icmp_error("198.51.100.1", "198.51.100.254", 11, 0, other).bytes()));
    CHECK(!key_of(Pkt::raw_ip("203.0.113.5", "198.51.100.254", 47).bytes()));
    CHECK(!key_of(Bytes{0x45, 0x00}));
}

TEST_CASE("the router's own ICMP: echo replies and errors the core found no mapping for") {
    const core::PacketView reply = core::parse_ipv4(Pkt::icmp_echo("203.0.113.5", "198.51.100.254", 7, true).bytes());
    const core::PacketView datagram = core::parse_ipv4(Pkt::udp("203.0.113.5:53", "198.51.100.254:40000").bytes());
    const core::PacketView request = core::parse_ipv4(Pkt::icmp_echo("203.0.113.5", "198.51.100.254", 7, false).bytes());
    CHECK(engine::router_icmp(core::Counter::drop_icmp_no_mapping, datagram));
    CHECK(engine::router_icmp(core::Counter::drop_no_mapping, reply));
    CHECK_FALSE(engine::router_icmp(core::Counter::drop_no_mapping, datagram));
    CHECK_FALSE(engine::router_icmp(core::Counter::drop_filtered, reply));
    CHECK_FALSE(engine::router_icmp(core::Counter::drop_no_mapping, request));
    CHECK_FALSE(engine::router_icmp(core::Counter::drop_no_mapping, core::parse_ipv4(Bytes{0x45})));
}

TEST_CASE("all fragments of a datagram go to one worker, whatever their offset; datagrams spread") {
    const Bytes first = Pkt::udp("203.0.113.5:53", "198.51.100.254:40000").ip_id(0x1234).mf().bytes();
    const Bytes later = Pkt::raw_ip("203.0.113.5", "198.51.100.254", 17).ip_id(0x1234).frag_offset(185).bytes();
    std::vector<int> seen(4);
    for (unsigned workers : {1u, 2u, 3u, 4u}) {
        CHECK(engine::fragment_owner(first, workers) == engine::fragment_owner(later, workers));
        CHECK(engine::fragment_owner(first, workers) < workers);
    }
    for (std::uint16_t id = 0; id < 400; ++id)
        ++seen[engine::fragment_owner(Pkt::raw_ip("203.0.113.5", "198.51.100.254", 17).ip_id(id).mf().bytes(), 4)];
    for (int n : seen)
        CHECK(n > 60); // 100 expected each
}

TEST_CASE("hand-off ring: records cross between two threads whole and in order, also when it is full") {
    engine::HandoffRing ring(1 << 16);
    CHECK(ring.max_record() == (1 << 15) - 8);
    const Bytes too_big(ring.max_record() + 1);
    CHECK_FALSE(ring.push(too_big, {}, 0));
    constexpr std::uint32_t kRecords = 20000;
    std::thread producer([&] {
        for (std::uint32_t i = 0; i < kRecords;) {
            // Sizes vary so that records wrap at every offset; content says which record it is.
            const std::size_t len = 1 + (i * 7919) % 3000;
            Bytes head(len, std::uint8_t(i)), tail(i % 3, std::uint8_t(i + 1));
            if (ring.push(head, tail, i))
                ++i;
            else
                std::this_thread::yield(); // full: the consumer is behind
        }
    });
    std::uint32_t next = 0;
    bool intact = true;
    while (next < kRecords) {
        std::uint64_t pos = ring.begin();
        engine::HandoffRing::Record rec;
        while (ring.next(pos, rec)) {
            const std::size_t len = 1 + (next * 7919) % 3000;
            intact = intact && rec.tag == next && rec.bytes.size() == len + next % 3 &&
                     rec.bytes.front() == std::uint8_t(next) &&
                     (next % 3 == 0 || rec.bytes.back() == std::uint8_t(next + 1));
            ++next;
        }
        ring.release(pos);
    }
    producer.join();
    CHECK(intact);
    CHECK(next == kRecords);
    std::uint64_t pos = ring.begin();
    engine::HandoffRing::Record rec;
    CHECK_FALSE(ring.next(pos, rec));
}

}
