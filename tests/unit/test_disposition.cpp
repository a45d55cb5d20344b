// The software datapath's one turn from the core's Outcome to what the worker does with the
// packet (disposition.hpp), as a fixture table, and where an arriving packet is steered.
#include "src/engine/software/disposition.hpp"

#include "conenat/core/packet/parse.hpp"
#include "tests/support/packet_builder.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace conenat;
using namespace conenat::test;
using core::Action;
using core::Counter;
using core::Direction;
using engine::Fate;

namespace {

const core::Ipv4 kE1 = ip("198.51.100.254");

// Two workers over ports 20000-20001: worker 0 owns 20000, worker 1 owns 20001.
engine::ShardPlan two_workers() {
    core::NatConfig c;
    c.pool.external_addrs = {kE1};
    c.pool.ports = core::PortSet::from_ranges({{20000, 20001}});
    std::string error;
    engine::ShardPlan p = engine::plan_shards(c, {{ip("10.0.0.0"), 24}}, 2, &error);
    REQUIRE(error.empty());
    REQUIRE(p.worker_of_port(20001) == 1);
    return p;
}

struct Fixture {
    const char* what;
    core::Outcome outcome;
    Bytes packet; // as translated
    engine::Context context;
    Fate fate;
    unsigned worker = 0;
    bool reply = false, release = false;
};

const Bytes kTranslated = Pkt::udp("198.51.100.254:20000", "203.0.113.5:53").bytes();
const Bytes kHairpinToWorker1 = Pkt::udp("198.51.100.254:20000", "198.51.100.254:20001").bytes();
const Bytes kHairpinToWorker0 = Pkt::udp("198.51.100.254:20001", "198.51.100.254:20000").bytes();
const Bytes kSynToWorker1 = Pkt::tcp("198.51.100.254:20000", "198.51.100.254:20001", core::tcp_flag::Syn).bytes();
const Bytes kEchoReply = Pkt::icmp_echo("203.0.113.5", "198.51.100.254", 7, true).bytes();
const Bytes kStray = Pkt::udp("203.0.113.5:53", "198.51.100.254:20000").bytes();

constexpr engine::Context kOut{Direction::Outbound, false, true, true};
constexpr engine::Context kIn{Direction::Inbound, false, true, true};
constexpr engine::Context kHandedOff{Direction::Inbound, true, true, true};
constexpr engine::Context kNoHandOff{Direction::Outbound, false, false, true};
constexpr engine::Context kInNoRouter{Direction::Inbound, false, true, false};

const std::vector<Fixture> kTable = {
    {"translated out: delivered", {Action::ToOutside}, kTranslated, kOut, Fate::Deliver},
    {"translated in: delivered", {Action::ToInside}, kTranslated, kIn, Fate::Deliver},
    {"translated, and it released a held SYN", {Action::ToOutside, Counter::translated_out, 0, 9}, kTranslated, kOut,
     Fate::Deliver, 0, false, true},
    {"a handed-off hairpin's inbound half: delivered", {Action::ToInside}, kHairpinToWorker0, kHandedOff, Fate::Deliver},
    {"an unsolicited SYN: held", {Action::Hold, Counter::syn_held, 0, 9}, kTranslated, kIn, Fate::Hold},
    {"a hairpinned SYN whose inbound half is worker 1's: handed off", {Action::Hold, Counter::syn_held, 0, 9},
     kSynToWorker1, kOut, Fate::HandOff, 1},
    {"a hairpin whose inbound half is worker 1's: handed off", {Action::Drop, Counter::drop_no_mapping},
     kHairpinToWorker1, kOut, Fate::HandOff, 1},
    {"the same, with a reply for the sender: handed off, and the reply sent",
     {Action::Drop, Counter::drop_no_mapping, 56}, kHairpinToWorker1, kOut, Fate::HandOff, 1, true},
    {"a hairpin whose inbound half is this worker's: dropped", {Action::Drop, Counter::drop_no_mapping},
     kHairpinToWorker0, kOut, Fate::Drop},
    {"a hairpin already handed off once: dropped, never handed on again", {Action::Drop, Counter::drop_no_mapping},
     kHairpinToWorker1, kHandedOff, Fate::Drop},
    {"a hairpin on a port that cannot hand off: dropped", {Action::Drop, Counter::drop_no_mapping},
     kHairpinToWorker1, kNoHandOff, Fate::Drop},
    {"a SYN on a port that cannot hand off: held", {Action::Hold, Counter::syn_held, 0, 9}, kSynToWorker1, kNoHandOff,
     Fate::Hold},
    {"refused with a reply: dropped, the reply sent", {Action::Drop, Counter::drop_filtered, 56}, kStray, kIn,
     Fate::Drop, 0, true},
    {"an echo reply nobody of ours asked for: the router's", {Action::Drop, Counter::drop_no_mapping}, kEchoReply, kIn,
     Fate::ToRouter},
    {"an ICMP error about no mapping of ours: the router's", {Action::Drop, Counter::drop_icmp_no_mapping}, kStray, kIn,
     Fate::ToRouter},
    {"the same on a port that cannot reach the router: dropped", {Action::Drop, Counter::drop_icmp_no_mapping}, kStray,
     kInNoRouter, Fate::Drop},
    {"an echo reply going out: dropped", {Action::Drop, Counter::drop_no_mapping}, kEchoReply, kOut, Fate::Drop},
    {"a datagram with no mapping: dropped", {Action::Drop, Counter::drop_no_mapping}, kStray, kIn, Fate::Drop},
    {"filtered: dropped", {Action::Drop, Counter::drop_filtered}, kStray, kIn, Fate::Drop},
};

} // namespace

TEST_SUITE("software datapath: disposition") {

TEST_CASE("outcome -> disposition, from worker 0 of two") {
    const engine::ShardPlan plan = two_workers();
    const engine::Steering steering(plan, 0, {{ip("10.0.0.0"), 24}});
    for (const Fixture& f : kTable) {
        CAPTURE(std::string(f.what));
        const engine::Disposition d = engine::dispose(f.outcome, core::parse_ipv4(f.packet), f.context, steering);
        CHECK(int(d.fate) == int(f.fate));
        if (f.fate == Fate::HandOff)
            CHECK(d.worker == f.worker);
        CHECK(d.reply == f.reply);
        CHECK(d.release == f.release);
    }
}

TEST_CASE("arrival: outbound by internal host, inbound by external port, the router's own by none") {
    const engine::ShardPlan plan = two_workers();
    const engine::Steering steering(plan, 0, {{ip("10.0.0.0"), 24}});
    const auto arrive = [&](const Bytes& p) { return steering.arrival(core::parse_ipv4(p)); };

    const engine::Arrival from_host1 = arrive(Pkt::udp("10.0.0.1:5000", "203.0.113.5:53").bytes());
    CHECK(int(from_host1.dir) == int(Direction::Outbound));
    CHECK(from_host1.owner == plan.worker_of_host(ip("10.0.0.1")));
    CHECK(arrive(Pkt::udp("10.0.0.2:5000", "203.0.113.5:53").bytes()).owner == plan.worker_of_host(ip("10.0.0.2")));

    const engine::Arrival to_20001 = arrive(Pkt::udp("203.0.113.5:53", "198.51.100.254:20001").bytes());
    CHECK(int(to_20001.dir) == int(Direction::Inbound));
    CHECK(to_20001.owner == 1);
    CHECK_FALSE(to_20001.router);
    CHECK(arrive(Pkt::tcp("203.0.113.5:80", "198.51.100.254:22", 0x02).bytes()).router); // not a NAT port

    // The router's own ICMP error about a packet it delivered inside: outbound, by that host.
    const Bytes delivered = Pkt::udp("203.0.113.5:53", "10.0.0.3:5000").bytes();
    const engine::Arrival error = arrive(Pkt::icmp_error("192.0.2.1", "203.0.113.5", 3, 4, delivered).bytes());
    CHECK(int(error.dir) == int(Direction::Outbound));
    CHECK(error.owner == plan.worker_of_host(ip("10.0.0.3")));
}

} // TEST_SUITE
