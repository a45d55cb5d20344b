// The software datapath end to end without the kernel: the core translates a batch in two
// passes, and carry_out acts on each disposition through a fake port that records what it
// was asked to do (the NFQUEUE and TUN ports do the same through the kernel).
#include "src/engine/software/carry_out.hpp"
#include "src/engine/software/two_pass_batch.hpp"

#include "conenat/core/packet/icmp_build.hpp"
#include "conenat/core/packet/parse.hpp"
#include "tests/support/packet_builder.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace conenat;
using namespace conenat::test;
using core::Direction;

namespace {

struct FakePacket {
    std::string name;
    Bytes bytes;
};

// Records every act; hand-offs succeed unless `rings_full`.
struct FakePort {
    bool rings_full = false;
    std::vector<std::string> acts;
    std::vector<Bytes> replies;

    bool hand_off(unsigned worker, FakePacket& p) {
        if (rings_full)
            return false;
        acts.push_back(p.name + ": hand off to " + std::to_string(worker));
        return true;
    }
    void release(std::uint32_t) { acts.push_back("release"); }
    void reply(std::span<const std::uint8_t> icmp) { replies.emplace_back(icmp.begin(), icmp.end()); }
    void deliver(FakePacket& p) { acts.push_back(p.name + ": deliver"); }
    void to_router(FakePacket& p) { acts.push_back(p.name + ": to router"); }
    void hold(FakePacket& p, std::uint32_t) { acts.push_back(p.name + ": hold"); }
    void drop(FakePacket& p) { acts.push_back(p.name + ": drop"); }
};

// Worker 0 of two over ports 20000-20001 of 198.51.100.254 (worker 1 owns 20001).
struct Datapath {
    engine::ShardPlan plan;
    core::Translator translator;
    engine::Steering steering;
    engine::PublishedStats<1> stats;

    static engine::ShardPlan make_plan() {
        core::NatConfig c;
        c.pool.external_addrs = {ip("198.51.100.254")};
        c.pool.ports = core::PortSet::from_ranges({{20000, 20001}});
        std::string error;
        return engine::plan_shards(c, {{ip("10.0.0.0"), 24}}, 2, &error);
    }
    Datapath() : plan(make_plan()), translator(plan.configs[0], 1), steering(plan, 0, {{ip("10.0.0.0"), 24}}) {}

    // One batch through the core and the port; packets are (name, bytes, direction).
    void run(FakePort& port, std::vector<FakePacket>& pkts, const std::vector<Direction>& dirs) {
        engine::TwoPassBatch<8> batch;
        std::vector<core::PacketRef> refs(pkts.size());
        std::vector<Bytes> reply_bufs(pkts.size(), Bytes(core::icmp::kErrorBytes));
        batch.clear();
        for (std::size_t i = 0; i < pkts.size(); ++i) {
            refs[i].bytes = pkts[i].bytes;
            refs[i].reply = reply_bufs[i];
            batch.add(i, refs[i], dirs[i]);
        }
        batch.run(translator, 1000, [&](std::size_t i, const core::PacketRef& r) { refs[i] = r; });
        for (std::size_t i = 0; i < pkts.size(); ++i)
            engine::carry_out(port, pkts[i], refs[i], engine::Context{dirs[i], false, true, true}, steering, stats);
    }
};

} // namespace

TEST_SUITE("software datapath: carry out through a port") {

TEST_CASE("a batch: delivered both ways, a hairpin handed off, the router's own echo reply passed") {
    Datapath dp;
    FakePort port;
    std::vector<FakePacket> out = {
        {"udp out", Pkt::udp("10.0.0.2:5000", "203.0.113.5:53").bytes()},
        {"hairpin", Pkt::udp("10.0.0.2:5000", "198.51.100.254:20001").bytes()},
    };
    dp.run(port, out, {Direction::Outbound, Direction::Outbound});
    const core::PacketView sent = core::parse_ipv4(out[0].bytes);
    CHECK(sent.src.addr == ip("198.51.100.254"));

    std::vector<FakePacket> in = {
        {"udp reply", Pkt::udp("203.0.113.5:53", "198.51.100.254:" + std::to_string(sent.src.port)).bytes()},
        {"echo reply", Pkt::icmp_echo("203.0.113.5", "198.51.100.254", 20000, true).bytes()},
    };
    dp.run(port, in, {Direction::Inbound, Direction::Inbound});
    CHECK(core::parse_ipv4(in[0].bytes).dst == ep("10.0.0.2:5000"));
    std::string acts;
    for (const auto& a : port.acts)
        acts += a + "; ";
    CAPTURE(acts);
    CHECK(port.acts == std::vector<std::string>{"udp out: deliver", "hairpin: hand off to 1", "udp reply: deliver",
                                                "echo reply: to router"});
    // The hairpin's inbound half failed here (no mapping) and is counted by worker 1, not by this
    // one: of the two packets without a mapping, only the echo reply counts here.
    dp.stats.publish(dp.translator.counters(), {});
    CHECK(dp.translator.counters().get(core::Counter::drop_no_mapping) == 2);
    CHECK(dp.stats.read()[std::size_t(core::Counter::drop_no_mapping)] == 1);
}

TEST_CASE("a hairpin that cannot be handed off (full rings) is dropped here") {
    Datapath dp;
    FakePort port;
    port.rings_full = true;
    std::vector<FakePacket> out = {{"hairpin", Pkt::udp("10.0.0.2:5000", "198.51.100.254:20001").bytes()}};
    dp.run(port, out, {Direction::Outbound});
    CHECK(port.acts == std::vector<std::string>{"hairpin: drop"});
    dp.stats.publish(dp.translator.counters(), {});
    CHECK(dp.stats.read()[std::size_t(core::Counter::drop_no_mapping)] == 1);
}

} // TEST_SUITE
