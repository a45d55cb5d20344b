// The queue engine's shard plan: every external port has exactly one worker, each worker
// allocates only its own ports, and an internal host's worker owns the ports of its mappings.
#include "src/engine/software/shard_plan.hpp"

#include "conenat/core/nat/port_allocator.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace conenat;
using namespace conenat::core;
using engine::plan_shards;
using engine::ShardPlan;

namespace {

constexpr Ipv4 kNet = make_ipv4(10, 0, 0, 0);
constexpr Ipv4 kE1 = make_ipv4(198, 51, 100, 254);
constexpr Ipv4 kE2 = make_ipv4(198, 51, 100, 253);

NatConfig config(PortSet ports, std::vector<Ipv4> addrs = {kE1}) {
    NatConfig c;
    c.pool.external_addrs = std::move(addrs);
    c.pool.ports = std::move(ports);
    c.pool.internal_base = kNet;
    return c;
}

ShardPlan plan(const NatConfig& c, unsigned workers, std::uint8_t prefix = 24) {
    std::string error;
    ShardPlan p = plan_shards(c, {{kNet, std::uint8_t(prefix)}}, workers, &error);
    REQUIRE_MESSAGE(error.empty(), error);
    return p;
}

// Ranges sorted, disjoint, and each worker's allocator hands out only ports the plan gives it.
void check_ports_partition(const NatConfig& c, const ShardPlan& p) {
    std::uint32_t covered = 0;
    for (std::size_t i = 0; i < p.ports.size(); ++i) {
        CHECK(p.ports[i].first <= p.ports[i].last);
        if (i > 0) CHECK(p.ports[i - 1].last < p.ports[i].first);
        covered += p.ports[i].last - p.ports[i].first + 1;
    }
    if (c.pool.block_size == 0) {
        CHECK(covered == c.pool.ports.size());
        std::uint32_t total = 0;
        for (unsigned k = 0; k < p.workers; ++k) {
            const PortSet& own = p.configs[k].pool.ports;
            total += own.size();
            for (std::uint32_t i = 0; i < own.size(); ++i) CHECK(p.worker_of_port(own.at(i)) == k);
        }
        CHECK(total == c.pool.ports.size());
    }
    for (std::uint32_t port = 0; port < 65536; ++port)
        if (!c.pool.ports.contains(std::uint16_t(port))) CHECK(p.worker_of_port(std::uint16_t(port)) == engine::kNoWorker);
}

} // namespace

TEST_SUITE("queue engine shards") {

TEST_CASE("one worker owns the whole pool and every host") {
    const NatConfig c = config(PortSet::from_ranges({{1024, 65535}}));
    const ShardPlan p = plan(c, 1);
    REQUIRE(p.ports.size() == 1);
    CHECK(p.ports[0].first == 1024);
    CHECK(p.ports[0].last == 65535);
    REQUIRE(p.hosts.size() == 1);
    CHECK(p.hosts[0].last == 255);
    CHECK(p.configs[0].pool.ports.size() == c.pool.ports.size());
    CHECK(p.configs[0].max_mappings == c.max_mappings);
    check_ports_partition(c, p);
}

TEST_CASE("two workers: contiguous port slices, hosts alternate by last byte, caps shared") {
    const NatConfig c = config(PortSet::from_ranges({{20000, 20009}}));
    const ShardPlan p = plan(c, 2);
    REQUIRE(p.ports.size() == 2);
    CHECK(p.ports[0].first == 20000);
    CHECK(p.ports[0].last == 20004);
    CHECK(p.ports[1].worker == 1);
    CHECK(p.worker_of_host(make_ipv4(10, 0, 0, 2)) == 0);
    CHECK(p.worker_of_host(make_ipv4(10, 0, 0, 3)) == 1);
    CHECK(p.configs[1].max_mappings == (c.max_mappings + 1) / 2);
    CHECK(p.configs[0].max_held_syns + p.configs[1].max_held_syns >= c.max_held_syns);
    check_ports_partition(c, p);
}

TEST_CASE("a MAP-E port set is split exactly, whatever its holes") {
    auto set = PortSet::map_e(0x34, 8, 4);
    REQUIRE(set);
    const NatConfig c = config(*set);
    for (unsigned workers : {1u, 3u, 7u}) {
        const ShardPlan p = plan(c, workers);
        check_ports_partition(c, p);
    }
}

TEST_CASE("a worker's allocator never hands out another worker's port") {
    const NatConfig c = config(PortSet::from_ranges({{1024, 1535}}));
    const ShardPlan p = plan(c, 3);
    for (unsigned k = 0; k < 3; ++k) {
        PortAllocator alloc(p.configs[k].pool, 7 + k);
        for (std::uint16_t port = 1000; port < 1150; ++port) { // fewer than a slice holds
            const auto ext = alloc.allocate(Proto::Udp, {make_ipv4(10, 0, 0, std::uint8_t(k)), port}, 0);
            REQUIRE(ext);
            CHECK(p.worker_of_port(ext->port) == k);
        }
    }
}

TEST_CASE("more workers than ports is refused") {
    std::string error;
    plan_shards(config(PortSet::from_ranges({{20000, 20001}})), {{kNet, 24}}, 3, &error);
    CHECK(error.find("more workers than external ports") != std::string::npos);
    plan_shards(config(PortSet::from_ranges({{20000, 20001}})), {{kNet, 24}}, 0, &error);
    CHECK(!error.empty());
}

TEST_CASE("RFC 7422 blocks: a host's block belongs to the host's worker, on every address") {
    NatConfig c = config(PortSet::from_ranges({{20000, 20099}}), {kE1, kE2});
    c.pool.block_size = 10; // 10 blocks per address: hosts .0-.19 have one
    const ShardPlan p = plan(c, 3, 24);
    CHECK(!p.by_low_byte);
    check_ports_partition(c, p);
    PortAllocator alloc(c.pool, 1);
    for (std::uint32_t h = 0; h < 256; ++h) {
        const Ipv4 host = kNet + h;
        const auto block = alloc.block_for(host);
        if (!block) {
            CHECK(p.worker_of_host(host) == 0);
            continue;
        }
        for (std::uint32_t i = 0; i < block->count; ++i)
            CHECK(p.worker_of_port(c.pool.ports.at(block->first_index + i)) == p.worker_of_host(host));
    }
    // The host ranges cover the internal net exactly and agree with worker_of_host.
    std::uint64_t next = kNet;
    for (const auto& r : p.hosts) {
        CHECK(r.first == next);
        for (std::uint64_t h = r.first; h <= r.last; ++h) CHECK(p.worker_of_host(Ipv4(h)) == r.worker);
        next = std::uint64_t(r.last) + 1;
    }
    CHECK(next == kNet + 256);
    // Every worker keeps the whole set: the blocks decide.
    CHECK(p.configs[2].pool.ports.size() == c.pool.ports.size());
}

TEST_CASE("a forward's port belongs to its host's worker, inside the pool's set or outside it") {
    NatConfig c = config(PortSet::from_ranges({{20000, 20009}})); // worker 0: 20000-20004, 1: 20005-20009
    const Forward in_pool{Proto::Udp, {kE1, 20001}, {make_ipv4(10, 0, 0, 3), 20001}};  // host .3: worker 1
    const Forward outside{Proto::Tcp, {0, 51820}, {make_ipv4(10, 0, 0, 2), 51820}};    // host .2: worker 0
    c.forwards = {in_pool, outside};
    const ShardPlan p = plan(c, 2);
    CHECK(p.worker_of_port(20001) == 1);
    CHECK(p.worker_of_port(51820) == 0);
    CHECK(p.worker_of_port(20000) == 0);
    CHECK(p.worker_of_port(20002) == 0);
    // Worker 1 allocates (and reserves) 20001, worker 0 never; 51820 stays out of every slice.
    CHECK(p.configs[1].pool.ports.contains(20001));
    CHECK(!p.configs[0].pool.ports.contains(20001));
    CHECK(!p.configs[0].pool.ports.contains(51820));
    CHECK(!p.configs[1].pool.ports.contains(51820));
    CHECK(p.configs[0].pool.ports.size() + p.configs[1].pool.ports.size() == c.pool.ports.size());
    // Each worker holds its own forwards only.
    REQUIRE(p.configs[0].forwards.size() == 1);
    CHECK(p.configs[0].forwards[0] == outside);
    REQUIRE(p.configs[1].forwards.size() == 1);
    CHECK(p.configs[1].forwards[0] == in_pool);
    // The port ranges stay sorted and disjoint, and name every forward's port.
    for (std::size_t i = 1; i < p.ports.size(); ++i) CHECK(p.ports[i - 1].last < p.ports[i].first);
    bool listed = false;
    for (const auto& r : p.ports) listed |= r.first <= 51820 && 51820 <= r.last && r.worker == 0;
    CHECK(listed);
    CHECK(engine::nat_ports(c) == std::vector<PortRange>{{20000, 20009}, {51820, 51820}});
    // One worker: everything is worker 0's.
    const ShardPlan one = plan(c, 1);
    CHECK(one.worker_of_port(20001) == 0);
    CHECK(one.worker_of_port(51820) == 0);
    CHECK(one.configs[0].forwards.size() == 2);
    CHECK(one.configs[0].pool.ports.size() == c.pool.ports.size());
}

TEST_CASE("a UDP and a TCP forward on one port for hosts of different workers are refused") {
    NatConfig c = config(PortSet::from_ranges({{20000, 20009}}));
    c.forwards = {{Proto::Udp, {0, 5000}, {make_ipv4(10, 0, 0, 2), 5000}},
                  {Proto::Tcp, {0, 5000}, {make_ipv4(10, 0, 0, 3), 5000}}};
    std::string error;
    plan_shards(c, {{kNet, 24}}, 2, &error);
    CHECK(error.find("port 5000") != std::string::npos);
    plan_shards(c, {{kNet, 24}}, 1, &error);
    CHECK(error.empty());
}

TEST_CASE("RFC 7422 blocks: a forward in another worker's block is kept reserved there") {
    NatConfig c = config(PortSet::from_ranges({{20000, 20099}}));
    c.pool.block_size = 10;                // block b: 20000 + 10 b, worker b % 2
    const Forward f{Proto::Udp, {0, 20015}, {make_ipv4(10, 0, 0, 4), 20015}}; // block 1 (worker 1); host .4: block 4, worker 0
    c.forwards = {f};
    const ShardPlan p = plan(c, 2);
    CHECK(p.worker_of_host(make_ipv4(10, 0, 0, 4)) == 0);
    CHECK(p.worker_of_port(20015) == 0);
    CHECK(p.worker_of_port(20014) == 1);
    CHECK(p.configs[0].forwards.size() == 1);
    CHECK(p.configs[1].forwards.size() == 1); // the reserving copy
}

TEST_CASE("several internal prefixes, in any order and overlapping: the host ranges are sorted and disjoint") {
    NatConfig c = config(PortSet::from_ranges({{20000, 20099}}));
    c.pool.block_size = 10;
    const Ipv4 guest = make_ipv4(10, 0, 1, 0);
    std::string error;
    const ShardPlan p = plan_shards(c, {{guest, 24}, {kNet, 24}, {kNet, 25}}, 2, &error);
    REQUIRE(error.empty());
    std::uint64_t covered = 0;
    for (std::size_t i = 0; i < p.hosts.size(); ++i) {
        if (i > 0) CHECK(p.hosts[i - 1].last < p.hosts[i].first);
        covered += std::uint64_t(p.hosts[i].last) - p.hosts[i].first + 1;
    }
    CHECK(covered == 512);
    CHECK(p.hosts.front().first == kNet);
    CHECK(p.hosts.back().last == guest + 255);
}

} // TEST_SUITE
