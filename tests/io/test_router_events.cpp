// The router's events against the real kernel: interface addresses by name, the rtnetlink and
// nf_tables monitors, conntrack deletion by NAT address, and RouterWatch driven by `ip` and `nft`.
// Each case runs in a network namespace of its own (made and removed here, see OwnNetns): it
// flushes rule sets and deletes links freely.
#include "conenat/io/conntrack.hpp"
#include "conenat/io/nft_monitor.hpp"
#include "conenat/io/nftables.hpp"
#include "conenat/io/rtnetlink.hpp"
#include "conenat/io/rtnetlink_monitor.hpp"
#include "engine/common/router_watch.hpp"
#include "engine/conntrack/rules.hpp"
#include "tests/io/netns_support.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace conenat;
using namespace iotest;
using core::make_ipv4;

namespace {

// Generous bounds for the kernel's asynchronous notifications: never what a check measures.
constexpr int kEventWaitMs = 10'000;
constexpr int kMaxRounds = 200;

// Runs `body` on a thread inside a network namespace made for it and removed after: the
// sockets it opens, the threads it starts and the commands it runs (sh) all live there.
void in_own_netns(const std::string& tag, const std::function<void()>& body) {
    const std::string ns = "cnw" + std::to_string(getpid()) + "-" + tag;
    std::string out;
    REQUIRE_MESSAGE(sh("ip netns add " + ns, &out) == 0, out);
    std::exception_ptr failed;
    std::thread t([&] {
        try {
            const int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0)
                throw std::runtime_error("setns " + ns);
            ::close(fd);
            sh("ip link set lo up");
            body();
        } catch (...) {
            failed = std::current_exception();
        }
    });
    t.join();
    sh("ip netns del " + ns);
    if (failed)
        std::rethrow_exception(failed);
}

void run(const std::string& cmd) {
    std::string out;
    REQUIRE_MESSAGE(sh(cmd, &out) == 0, cmd << ": " << out);
}

// The link's index as `ip` shows it ("7: cnw0@cnw1: ..."; /sys shows another namespace's).
unsigned ifindex_of(const std::string& ifname) {
    return static_cast<unsigned>(std::stoul(sh_out("ip -o link show dev " + ifname)));
}

std::vector<core::Ipv4> addresses(const std::string& ifname) {
    auto a = io::ipv4_addresses(ifname);
    REQUIRE_MESSAGE(a.ok(), a.error());
    std::vector<core::Ipv4> v = std::move(a.value());
    std::sort(v.begin(), v.end());
    return v;
}

// Reads `monitor` until `done` says so or kEventWaitMs pass without any event (then fails).
template <typename Monitor, typename Event>
void read_until(Monitor& monitor, const std::function<bool(const Event&)>& done) {
    for (int round = 0; round < kMaxRounds; ++round) {
        REQUIRE_MESSAGE(wait_readable(monitor.fd(), kEventWaitMs), "no event came");
        bool finished = false;
        auto r = monitor.read([&](const Event& e) { finished = finished || done(e); });
        REQUIRE_MESSAGE(r.ok(), r.error());
        if (finished)
            return;
    }
    FAIL("the expected event never came");
}

const auto table_deleted = [](const std::string& table) {
    return [table](const io::NftEvent& e) {
        return e.object == io::NftEvent::Object::Table && e.deleted && e.table == table;
    };
};

// What RouterWatch's handlers told, in order.
struct Told {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<std::vector<core::Ipv4>> wans;
    std::vector<std::string> losses;

    engine::RouterWatchHandlers handlers() {
        return {[this](std::vector<core::Ipv4> a) {
                    std::sort(a.begin(), a.end());
                    std::lock_guard l(mutex);
                    wans.push_back(std::move(a));
                    cv.notify_all();
                },
                [this](const std::string& why) {
                    std::lock_guard l(mutex);
                    losses.push_back(why);
                    cv.notify_all();
                }};
    }
    // Waits until there are at least `n` WAN reports (or losses); returns the n-th.
    std::vector<core::Ipv4> wan(std::size_t n) {
        std::unique_lock l(mutex);
        REQUIRE_MESSAGE(cv.wait_for(l, std::chrono::milliseconds(kEventWaitMs), [&] { return wans.size() >= n; }),
                        "WAN report " << n << " never came");
        return wans[n - 1];
    }
    std::string loss(std::size_t n) {
        std::unique_lock l(mutex);
        REQUIRE_MESSAGE(cv.wait_for(l, std::chrono::milliseconds(2 * kEventWaitMs), [&] { return losses.size() >= n; }),
                        "table_lost " << n << " never came");
        return losses[n - 1];
    }
};

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.rfind(prefix, 0) == 0;
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

const std::string kTableCmd = "nft add table ip cnwatch && nft add chain ip cnwatch c && "
                              "nft add set ip cnwatch s '{ type ipv4_addr; }'";

} // namespace

TEST_SUITE("router_events") {
    TEST_CASE("ipv4_addresses: by name, the local end of a peer address, none, no such interface") {
        IOTEST_REQUIRE_NETNS();
        in_own_netns("addr", [] {
            run("ip link add cnw0 type veth peer name cnw1");
            CHECK(addresses("cnw0").empty());
            run("ip addr add 192.0.2.5/24 dev cnw0 && ip addr add 198.51.100.5/24 dev cnw0");
            run("ip addr add 10.9.0.1/24 dev cnw1"); // another interface's: not listed
            CHECK(addresses("cnw0") == std::vector{make_ipv4(192, 0, 2, 5), make_ipv4(198, 51, 100, 5)});
            run("ip addr del 192.0.2.5/24 dev cnw0 && ip addr add 100.64.0.9 peer 100.64.0.1 dev cnw0");
            CHECK(addresses("cnw0") == std::vector{make_ipv4(100, 64, 0, 9), make_ipv4(198, 51, 100, 5)});
            CHECK(addresses("cnwnone").empty());
            CHECK_FALSE(io::ipv4_addresses("").ok());
            CHECK_FALSE(io::ipv4_addresses("a-name-far-too-long-for-linux").ok());
        });
    }

    TEST_CASE("RtnetlinkMonitor: an address added and removed, a link deleted and made again") {
        IOTEST_REQUIRE_NETNS();
        in_own_netns("rtmon", [] {
            auto m = io::RtnetlinkMonitor::open();
            REQUIRE_MESSAGE(m.ok(), m.error());
            using Kind = io::InterfaceEvent::Kind;
            run("ip link add cnw0 type veth peer name cnw1");
            const unsigned first = ifindex_of("cnw0");
            run("ip addr add 192.0.2.7/24 dev cnw0");
            read_until<io::RtnetlinkMonitor, io::InterfaceEvent>(*m, [&](const io::InterfaceEvent& e) {
                return e.kind == Kind::AddressAdded && e.address == make_ipv4(192, 0, 2, 7) && e.ifindex == first;
            });
            run("ip addr del 192.0.2.7/24 dev cnw0");
            read_until<io::RtnetlinkMonitor, io::InterfaceEvent>(*m, [&](const io::InterfaceEvent& e) {
                return e.kind == Kind::AddressRemoved && e.address == make_ipv4(192, 0, 2, 7);
            });
            run("ip link del cnw0");
            read_until<io::RtnetlinkMonitor, io::InterfaceEvent>(*m, [&](const io::InterfaceEvent& e) {
                return e.kind == Kind::LinkRemoved && e.ifindex == first;
            });
            run("ip link add cnw0 type veth peer name cnw1");
            const unsigned second = ifindex_of("cnw0");
            CHECK(second != first);
            read_until<io::RtnetlinkMonitor, io::InterfaceEvent>(*m, [&](const io::InterfaceEvent& e) {
                return e.kind == Kind::LinkChanged && e.ifindex == second;
            });
        });
    }

    TEST_CASE("NftMonitor: the nft tool's changes carry its port id, ours Nftables::portid(); the filter drops only ours") {
        IOTEST_REQUIRE_NETNS();
        in_own_netns("nftmon", [] {
            auto nft = io::Nftables::open();
            REQUIRE_MESSAGE(nft.ok(), nft.error());
            const std::uint32_t ours = nft->portid();
            REQUIRE(ours != 0);
            auto all = io::NftMonitor::open();
            REQUIRE_MESSAGE(all.ok(), all.error());
            auto others = io::NftMonitor::open(ours);
            REQUIRE_MESSAGE(others.ok(), others.error());

            // The tool deletes: not our port id, seen by both monitors.
            run(kTableCmd);
            run("nft delete table ip cnwatch");
            std::uint32_t tool = 0;
            read_until<io::NftMonitor, io::NftEvent>(*all, [&](const io::NftEvent& e) {
                if (!table_deleted("cnwatch")(e)) return false;
                CHECK(e.family == io::kNftFamilyIp);
                tool = e.portid;
                return true;
            });
            CHECK(tool != ours);
            CHECK(tool != 0);
            read_until<io::NftMonitor, io::NftEvent>(*others, table_deleted("cnwatch"));

            // Our own install (the conntrack engine's rule set), then our own removal: our port id.
            engine::EngineConfig config;
            config.table = "cnwown";
            config.external_if = "lo";
            config.internal = {{make_ipv4(10, 0, 0, 0), 24}};
            config.nat.pool.external_addrs = {make_ipv4(203, 0, 113, 1)};
            config.nat.pool.ports = core::PortSet::from_ranges({{1024, 65535}});
            Status st = nft->install(engine::conntrack_rules(config, io::nft::Queueing::Xt));
            REQUIRE_MESSAGE(st.ok(), st.error());
            read_until<io::NftMonitor, io::NftEvent>(*all, [&](const io::NftEvent& e) {
                if (e.object != io::NftEvent::Object::Table || e.deleted || e.table != "cnwown") return false;
                CHECK(e.portid == ours);
                return true;
            });
            st = nft->remove("cnwown");
            REQUIRE_MESSAGE(st.ok(), st.error());
            read_until<io::NftMonitor, io::NftEvent>(*all, [&](const io::NftEvent& e) {
                if (!table_deleted("cnwown")(e)) return false;
                CHECK(e.portid == ours);
                return true;
            });

            // `nft flush ruleset`: the tool's again. The filtered monitor saw none of ours:
            // the first deletion it sees after the first one is the flush's.
            run(kTableCmd);
            run("nft flush ruleset");
            read_until<io::NftMonitor, io::NftEvent>(*all, [&](const io::NftEvent& e) {
                if (!table_deleted("cnwatch")(e)) return false;
                CHECK(e.portid != ours);
                return true;
            });
            read_until<io::NftMonitor, io::NftEvent>(*others, [&](const io::NftEvent& e) {
                CHECK(e.portid != ours);
                CHECK(e.table != "cnwown");
                return table_deleted("cnwatch")(e);
            });
        });
    }

    TEST_CASE("delete_conntrack_nat: the entries NATed to the address (or endpoint), nothing else") {
        IOTEST_REQUIRE_NETNS();
        in_own_netns("ct", [] {
            const char* create = "conntrack -I -t 300 ";
            // Two NATed to 203.0.113.1 (udp :6000, tcp :6001), one to 203.0.113.2, one of the
            // router's own from 203.0.113.1 (its reply comes back to that address too: kept).
            run(std::string(create) + "-p udp -s 10.0.0.2 -d 192.0.2.2 --sport 5000 --dport 53 --src-nat 203.0.113.1:6000");
            run(std::string(create) + "-p tcp --state ESTABLISHED -s 10.0.0.3 -d 192.0.2.2 --sport 5001 --dport 80 "
                                      "--src-nat 203.0.113.1:6001");
            run(std::string(create) + "-p udp -s 10.0.0.4 -d 192.0.2.2 --sport 5002 --dport 53 --src-nat 203.0.113.2:6000");
            run(std::string(create) + "-p udp -s 203.0.113.1 -d 192.0.2.2 --sport 7000 --dport 53");
            auto count = [] {
                std::size_t n = 0;
                Status s = io::dump_conntrack([&](const io::FlowEvent&) { ++n; });
                REQUIRE_MESSAGE(s.ok(), s.error());
                return n;
            };
            REQUIRE(count() == 4);
            // The endpoint: only the UDP entry at :6000 of .1 (not the TCP one, not .2's :6000).
            auto d = io::delete_conntrack_nat(core::Proto::Udp, {make_ipv4(203, 0, 113, 1), 6000});
            REQUIRE_MESSAGE(d.ok(), d.error());
            CHECK(*d == 1);
            CHECK(count() == 3);
            CHECK_FALSE(contains(sh_out("conntrack -L"), "sport=5000"));
            // The address: the TCP entry; .2's and the router's own stay.
            d = io::delete_conntrack_nat(make_ipv4(203, 0, 113, 1));
            REQUIRE_MESSAGE(d.ok(), d.error());
            CHECK(*d == 1);
            CHECK(count() == 2);
            const std::string left = sh_out("conntrack -L");
            CHECK(contains(left, "sport=5002"));
            CHECK(contains(left, "sport=7000"));
            CHECK_FALSE(contains(left, "sport=5001"));
            d = io::delete_conntrack_nat(make_ipv4(203, 0, 113, 1));
            REQUIRE_MESSAGE(d.ok(), d.error());
            CHECK(*d == 0);
            d = io::delete_conntrack_nat(make_ipv4(203, 0, 113, 2));
            REQUIRE_MESSAGE(d.ok(), d.error());
            CHECK(*d == 1);
            CHECK(count() == 1);
        });
    }

    TEST_CASE("RouterWatch: the WAN followed by name across a link deleted and made again; table losses by others, once per burst") {
        IOTEST_REQUIRE_NETNS();
        in_own_netns("watch", [] {
            run("ip link add wan0 type veth peer name wan1 && ip addr add 192.0.2.1/24 dev wan0");
            run(kTableCmd);
            auto nft = io::Nftables::open();
            REQUIRE_MESSAGE(nft.ok(), nft.error());
            auto watch = engine::RouterWatch::open(
                {"wan0", true, "cnwatch", nft->portid(), {make_ipv4(192, 0, 2, 1)}});
            REQUIRE_MESSAGE(watch.ok(), watch.error());
            Told told;
            REQUIRE(watch->start(told.handlers()).ok());

            run("ip addr add 198.51.100.1/24 dev wan0");
            CHECK(told.wan(1) == std::vector{make_ipv4(192, 0, 2, 1), make_ipv4(198, 51, 100, 1)});
            // Another interface's address leaves wan0's as they were: no report for it.
            run("ip addr add 10.9.0.1/24 dev wan1");
            run("ip link del wan0");
            CHECK(told.wan(2).empty());
            run("ip link add wan0 type veth peer name wan1 && ip addr add 203.0.113.7/32 dev wan0");
            CHECK(told.wan(3) == std::vector{make_ipv4(203, 0, 113, 7)});

            // Our own deletion is no news; the nft tool's is, once, named.
            Status st = nft->remove("cnwatch");
            REQUIRE_MESSAGE(st.ok(), st.error());
            run(kTableCmd);
            run("nft delete table ip cnwatch");
            const std::string first = told.loss(1);
            CHECK(starts_with(first, "table ip cnwatch deleted by nft (pid "));
            // A flush (many deletions of our table in one transaction): one loss. The next
            // burst, a chain deleted, is the loss after it, within the re-fire limit.
            run(kTableCmd);
            run("nft flush ruleset");
            const std::string flushed = told.loss(2);
            CHECK(starts_with(flushed, "table ip cnwatch deleted by nft (pid "));
            run(kTableCmd);
            run("nft delete chain ip cnwatch c");
            // (A second loss held from the flush would have been told first, with this one counted.)
            const std::string chain = told.loss(3);
            CHECK(starts_with(chain, "a chain of ip cnwatch deleted by nft (pid "));
            CHECK_FALSE(contains(chain, "more since"));
            // Another table's deletion is not ours: the WAN report after it is the next news.
            run("nft add table ip other && nft delete table ip other");
            run("ip addr add 203.0.113.8/32 dev wan0");
            CHECK(told.wan(4) == std::vector{make_ipv4(203, 0, 113, 7), make_ipv4(203, 0, 113, 8)});
            watch->stop();
            watch->stop(); // idempotent
            std::lock_guard l(told.mutex);
            CHECK(told.losses.size() == 3);
            CHECK(told.wans.size() == 4);
        });
    }
}
