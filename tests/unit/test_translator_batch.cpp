// The batched path (with its prefetch pipeline) must decide exactly as the per-packet path.
#include "conenat/core/nat/translator.hpp"
#include "tests/support/packet_builder.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>

using namespace conenat::core;
using namespace conenat::test;

namespace {

std::string text(Endpoint e) {
    return std::to_string(e.addr >> 24) + "." + std::to_string(e.addr >> 16 & 255) + "." + std::to_string(e.addr >> 8 & 255) +
           "." + std::to_string(e.addr & 255) + ":" + std::to_string(e.port);
}

// Runs `pkts` through both translators, one per packet and one batched; both must agree.
void both(Translator& single, Translator& batched, std::vector<Bytes> pkts, Direction dir, std::vector<Bytes>* out = nullptr) {
    std::vector<Bytes> b = pkts;
    std::vector<PacketRef> refs(b.size());
    for (std::size_t i = 0; i < b.size(); ++i) refs[i].bytes = b[i];
    batched.process_batch(refs, dir, 100);
    for (std::size_t i = 0; i < pkts.size(); ++i) {
        const Outcome o = single.process(pkts[i], dir, 100);
        REQUIRE(int(o.action) == int(refs[i].outcome.action));
        REQUIRE(hex(pkts[i]) == hex(b[i]));
    }
    if (out) *out = pkts;
}

} // namespace

TEST_SUITE("translator: batch") {

TEST_CASE("process_batch decides as process does, on tables large enough to prefetch") {
    for (NatType type : {NatType::FullCone, NatType::PortRestrictedCone, NatType::Symmetric}) {
        CAPTURE(to_string(type));
        NatConfig c;
        c.set_type(type);
        c.pool.external_addrs = {ip("198.51.100.254"), ip("198.51.100.253")};
        c.max_mappings = 40'000;
        c.max_sessions = 40'000;
        Translator single(c, 5), batched(c, 5);
        std::mt19937 rng(11);
        std::vector<Bytes> pkts;
        for (int i = 0; i < 20'000; ++i) { // above the prefetch threshold
            const std::string src = "10.0." + std::to_string(i / 250) + "." + std::to_string(1 + i % 250) + ":" + std::to_string(4000 + i % 7);
            const std::string dst = "203.0.113." + std::to_string(1 + rng() % 3) + ":" + std::to_string(5000 + rng() % 3);
            pkts.push_back(i % 5 == 0 ? Pkt::tcp(src, dst, tcp_flag::Syn).bytes() : Pkt::udp(src, dst).payload("x").bytes());
        }
        std::vector<Bytes> sent;
        both(single, batched, pkts, Direction::Outbound, &sent);
        // Answers from the remotes, and from strangers, in a shuffled order.
        std::vector<Bytes> answers;
        for (const Bytes& p : sent) {
            const PacketView v = parse_ipv4(p);
            const Endpoint from = rng() % 4 ? v.dst : Endpoint{v.dst.addr + 1, v.dst.port};
            answers.push_back(v.kind == PacketKind::Tcp ? Pkt::tcp(text(from), text(v.src), tcp_flag::Syn | tcp_flag::Ack).bytes()
                                                        : Pkt::udp(text(from), text(v.src)).payload("y").bytes());
        }
        std::shuffle(answers.begin(), answers.end(), rng);
        both(single, batched, answers, Direction::Inbound);
        CHECK(single.table().mapping_count() == 20'000);
        CHECK(batched.table().mapping_count() == 20'000);
        CHECK(single.table().consistency_error() == "");
        CHECK(batched.table().consistency_error() == "");
        for (Counter k : {Counter::translated_in, Counter::drop_filtered, Counter::syn_held})
            CHECK(single.counters()[k] == batched.counters()[k]);
    }
}

} // TEST_SUITE
