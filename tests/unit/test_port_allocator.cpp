#include "conenat/core/nat/port_allocator.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

using namespace conenat::core;

namespace {

constexpr Ipv4 kE1 = make_ipv4(198, 51, 100, 254);
constexpr Ipv4 kE2 = make_ipv4(198, 51, 100, 253);
constexpr Ipv4 kIn1 = make_ipv4(10, 0, 0, 2);
constexpr Ipv4 kIn2 = make_ipv4(10, 0, 0, 3);
constexpr std::uint64_t kSeed = 0x5eed;

PoolConfig pool(std::vector<Ipv4> addrs, PortSet ports) {
    PoolConfig c;
    c.external_addrs = std::move(addrs);
    c.ports = std::move(ports);
    return c;
}

PortSet range(std::uint16_t first, std::uint16_t last) {
    return PortSet::from_ranges({{first, last}});
}

// The first host at or after `from` whose paired address is `addr_index`.
Ipv4 host_on(const PortAllocator& a, std::uint32_t addr_index, Ipv4 from = make_ipv4(10, 0, 0, 2)) {
    Ipv4 h = from;
    while (a.address_index_for(h) != addr_index)
        ++h;
    return h;
}

} // namespace

TEST_SUITE("port_allocator") {

TEST_CASE("UDP-3: never two internal endpoints on one external endpoint") {
    PortAllocator a(pool({kE1, kE2}, range(20000, 20999)), kSeed);
    std::set<std::pair<Ipv4, std::uint16_t>> seen;
    std::uint32_t ok = 0;
    for (std::uint32_t i = 0; i < 5000; ++i) {
        // Many hosts on the same few internal ports force collisions (RFC 4787 §4.2.1).
        const auto ext = a.allocate(Proto::Udp, {make_ipv4(10, 0, 1, 0) + i % 300, std::uint16_t(20000 + i % 7)}, 0);
        if (!ext)
            continue;
        ++ok;
        CHECK(seen.insert({ext->addr, ext->port}).second);
        CHECK(a.in_use(Proto::Udp, *ext));
    }
    CHECK(ok == a.capacity());
    CHECK(a.used(Proto::Udp) == a.capacity());
}

TEST_CASE("UDP-3: the first host keeps its port, the second gets another one") {
    auto cfg = pool({kE1}, range(1024, 65535));
    PortAllocator a(cfg, kSeed);
    const auto first = a.allocate(Proto::Udp, {kIn1, 5000}, 0);
    const auto second = a.allocate(Proto::Udp, {kIn2, 5000}, 0);
    REQUIRE(first);
    REQUIRE(second);
    CHECK(*first == Endpoint{kE1, 5000});
    CHECK(second->addr == kE1);
    CHECK(second->port != 5000);

    SUBCASE("without port preservation the port is random") {
        cfg.preserve_port = false;
        PortAllocator b(cfg, kSeed);
        std::uint32_t kept = 0;
        for (std::uint16_t p = 2000; p < 2100; p += 2)
            kept += b.allocate(Proto::Udp, {kIn1, p}, 0)->port == p;
        CHECK(kept < 3);
    }
    SUBCASE("an internal port outside the set is not preserved") {
        const auto ext = a.allocate(Proto::Udp, {kIn1, 80}, 0);
        REQUIRE(ext);
        CHECK(ext->port >= 1024);
    }
}

TEST_CASE("UDP-4: parity") {
    SUBCASE("even maps to even and odd to odd under collisions") {
        PortAllocator a(pool({kE1}, range(1024, 65535)), kSeed);
        for (Ipv4 h = kIn1; h < kIn1 + 2000; ++h) {
            for (std::uint16_t port : {std::uint16_t(5004), std::uint16_t(5005)}) {
                const auto ext = a.allocate(Proto::Udp, {h, port}, 0);
                REQUIRE(ext);
                CHECK((ext->port & 1) == (port & 1));
            }
        }
    }
    SUBCASE("MAP-5: parity holds in a MAP-E set until that parity is exhausted, then any parity") {
        PortAllocator a(pool({kE1}, *PortSet::map_e(0x2C, 8, 4)), kSeed);
        for (int i = 0; i < 120; ++i) {
            const auto ext = a.allocate(Proto::Udp, {kIn1 + Ipv4(i), 6000}, 0);
            REQUIRE(ext);
            CHECK(ext->port % 2 == 0);
        }
        for (int i = 0; i < 120; ++i) {
            const auto ext = a.allocate(Proto::Udp, {kIn1 + Ipv4(i), 6000}, 0);
            REQUIRE(ext);
            CHECK(ext->port % 2 == 1);
        }
        CHECK_FALSE(a.allocate(Proto::Udp, {kIn1, 6000}, 0));
    }
    SUBCASE("UPD-8: parity preservation can be turned off") {
        auto cfg = pool({kE1}, range(1024, 65535));
        cfg.preserve_parity = false;
        PortAllocator a(cfg, kSeed);
        int odd = 0;
        for (Ipv4 h = kIn1; h < kIn1 + 1000; ++h)
            odd += a.allocate(Proto::Udp, {h, 5004}, 0)->port & 1;
        CHECK(odd > 400);
        CHECK(odd < 600);
    }
}

TEST_CASE("UDP-3a: the external port stays in the internal port's class") {
    PortAllocator a(pool({kE1}, range(1, 65535)), kSeed);
    REQUIRE(a.claim(Proto::Udp, {kE1, 123}));
    REQUIRE(a.claim(Proto::Udp, {kE1, 40000}));
    for (int i = 0; i < 200; ++i) {
        const auto low = a.allocate(Proto::Udp, {kIn1, 123}, 0);
        const auto high = a.allocate(Proto::Udp, {kIn1, 40000}, 0);
        REQUIRE(low);
        REQUIRE(high);
        CHECK(low->port < 1024);
        CHECK(low->port % 2 == 1);
        CHECK(high->port >= 1024);
        CHECK(high->port % 2 == 0);
    }

    SUBCASE("a set without low ports maps low ports high (documented deviation)") {
        PortAllocator b(pool({kE1}, range(1024, 65535)), kSeed);
        const auto ext = b.allocate(Proto::Udp, {kIn1, 123}, 0);
        REQUIRE(ext);
        CHECK(ext->port >= 1024);
        CHECK(ext->port % 2 == 1);
    }
    SUBCASE("a full low class overflows into the high class rather than failing") {
        PortAllocator b(pool({kE1}, range(1000, 1100)), kSeed);
        for (std::uint16_t p = 1000; p < 1024; ++p)
            REQUIRE(b.claim(Proto::Udp, {kE1, p}));
        const auto ext = b.allocate(Proto::Udp, {kIn1, 123}, 0);
        REQUIRE(ext);
        CHECK(ext->port >= 1024);
    }
}

TEST_CASE("UDP-2: paired pooling") {
    const std::vector<Ipv4> addrs{kE1, kE2, make_ipv4(198, 51, 100, 10), make_ipv4(198, 51, 100, 40)};
    PortAllocator a(pool(addrs, range(1024, 65535)), kSeed);
    std::set<std::uint32_t> used_addrs;
    for (Ipv4 h = kIn1; h < kIn1 + 50; ++h) {
        const std::uint32_t paired = a.address_index_for(h);
        REQUIRE(paired < addrs.size());
        used_addrs.insert(paired);
        // CGN-2: the pairing holds across all protocols.
        for (Proto proto : {Proto::Udp, Proto::Tcp, Proto::Icmp}) {
            for (std::uint16_t port = 40000; port < 40010; ++port) {
                const auto ext = a.allocate(proto, {h, port}, 0);
                REQUIRE(ext);
                CHECK(ext->addr == addrs[paired]);
            }
        }
    }
    CHECK(used_addrs.size() == addrs.size()); // CGN-3: every pool address is used

    // The pairing survives a restart (another seed, fresh state).
    PortAllocator b(pool(addrs, range(1024, 65535)), kSeed + 1);
    for (Ipv4 h = kIn1; h < kIn1 + 50; ++h)
        CHECK(b.address_index_for(h) == a.address_index_for(h));
}

TEST_CASE("UPD-4: paired address exhausted => nullopt, never the other address") {
    PortAllocator a(pool({kE1, kE2}, range(1024, 1033)), kSeed);
    const Ipv4 h = host_on(a, 0);
    for (int i = 0; i < 10; ++i) {
        const auto ext = a.allocate(Proto::Udp, {h, std::uint16_t(30000 + i)}, 0);
        REQUIRE(ext);
        CHECK(ext->addr == kE1);
    }
    CHECK_FALSE(a.allocate(Proto::Udp, {h, 30010}, 0));
    CHECK_FALSE(a.allocate(Proto::Udp, {h, 1024}, 0));
    for (std::uint16_t p = 1024; p <= 1033; ++p)
        CHECK_FALSE(a.in_use(Proto::Udp, {kE2, p}));
    const auto other = a.allocate(Proto::Udp, {host_on(a, 1), 30000}, 0);
    REQUIRE(other);
    CHECK(other->addr == kE2);
}

TEST_CASE("UPD-5: each protocol has its own port space") {
    PortAllocator a(pool({kE1}, range(1024, 1027)), kSeed);
    for (int i = 0; i < 4; ++i)
        REQUIRE(a.allocate(Proto::Udp, {kIn1, std::uint16_t(1024 + i)}, 0));
    CHECK_FALSE(a.allocate(Proto::Udp, {kIn1, 5000}, 0));
    CHECK(a.used(Proto::Udp) == 4);
    CHECK(a.used(Proto::Tcp) == 0);
    const auto tcp = a.allocate(Proto::Tcp, {kIn1, 1024}, 0);
    const auto icmp = a.allocate(Proto::Icmp, {kIn1, 1024}, 0);
    CHECK(tcp == Endpoint{kE1, 1024});
    CHECK(icmp == Endpoint{kE1, 1024});
    CHECK(a.used(Proto::Tcp) == 1);
    CHECK(a.used(Proto::Icmp) == 1);
}

TEST_CASE("CGN-11: exhaustion at exactly capacity, and existing endpoints are never evicted") {
    PortAllocator a(pool({kE1, kE2}, PortSet::from_ranges({{2000, 2049}, {3000, 3049}})), kSeed);
    REQUIRE(a.capacity() == 200);
    std::vector<Endpoint> got;
    for (Ipv4 h = kIn1; h < kIn1 + 100; ++h)
        for (std::uint16_t port = 2000; port < 2010; ++port)
            if (auto ext = a.allocate(Proto::Tcp, {h, port}, 0))
                got.push_back(*ext);
    CHECK(got.size() == 200);
    CHECK(a.used(Proto::Tcp) == a.capacity());
    CHECK_FALSE(a.allocate(Proto::Tcp, {kIn1, 2000}, 0));
    CHECK_FALSE(a.allocate(Proto::Tcp, {kIn2, 60000}, 0));
    std::set<std::pair<Ipv4, std::uint16_t>> distinct;
    for (const Endpoint& e : got) {
        CHECK(a.in_use(Proto::Tcp, e));
        distinct.insert({e.addr, e.port});
    }
    CHECK(distinct.size() == 200);
}

TEST_CASE("UDP-11: deterministic: the same seed and history give the same answers") {
    auto run = [](std::uint64_t seed) {
        PortAllocator a(pool({kE1, kE2}, range(1024, 4095)), seed);
        std::vector<std::pair<Ipv4, std::uint16_t>> out;
        for (int i = 0; i < 3000; ++i) {
            const Endpoint in{kIn1 + Ipv4(i % 17), std::uint16_t(1024 + i % 5)};
            const auto ext = a.allocate(Proto::Udp, in, TimeMs(i));
            out.push_back(ext ? std::pair{ext->addr, ext->port} : std::pair<Ipv4, std::uint16_t>{0, 0});
            if (ext && i % 3 == 0)
                a.release(Proto::Udp, *ext, TimeMs(i), i % 2 == 0);
        }
        return out;
    };
    CHECK(run(42) == run(42));
    CHECK(run(42) != run(43));
}

TEST_CASE("UPD-9: random ports show no sequential pattern") {
    auto cfg = pool({kE1}, range(1024, 65535));
    cfg.preserve_port = false;
    PortAllocator a(cfg, kSeed);
    std::vector<double> ports;
    for (int i = 0; i < 10000; ++i) {
        const auto ext = a.allocate(Proto::Udp, {kIn1, std::uint16_t(10000 + 2 * (i % 100))}, 0);
        REQUIRE(ext);
        REQUIRE(ext->port % 2 == 0);
        ports.push_back(ext->port);
    }
    double mean = 0;
    for (double p : ports)
        mean += p;
    mean /= double(ports.size());
    double num = 0, den = 0;
    int steps = 0;
    for (std::size_t i = 0; i < ports.size(); ++i) {
        den += (ports[i] - mean) * (ports[i] - mean);
        if (i + 1 < ports.size()) {
            num += (ports[i] - mean) * (ports[i + 1] - mean);
            steps += std::abs(ports[i + 1] - ports[i]) <= 2;
        }
    }
    const double serial = num / den;
    CHECK(std::abs(serial) < 0.05);
    CHECK(steps < 10);
    // Roughly uniform: 16 equal buckets of the even ports each get 1/16 +- 20%.
    int buckets[16] = {};
    for (double p : ports)
        ++buckets[int((p - 1024) * 16 / 64512)];
    for (int b : buckets) {
        CHECK(b > 500);
        CHECK(b < 750);
    }
}

TEST_CASE("CGN-8: quarantine") {
    auto cfg = pool({kE1}, range(1024, 1027));
    cfg.quarantine_ms = 120000;
    PortAllocator a(cfg, kSeed);
    for (int i = 0; i < 4; ++i)
        REQUIRE(a.allocate(Proto::Udp, {kIn1, std::uint16_t(1024 + i)}, 0));

    a.release(Proto::Udp, {kE1, 1025}, 1000, true);
    CHECK(a.in_use(Proto::Udp, {kE1, 1025}));
    CHECK(a.used(Proto::Udp) == 4);
    CHECK_FALSE(a.allocate(Proto::Udp, {kIn2, 1025}, 1000 + 119999));
    CHECK_FALSE(a.claim(Proto::Udp, {kE1, 1025}));

    SUBCASE("a second release does not end the quarantine early") {
        a.release(Proto::Udp, {kE1, 1025}, 2000, false);
        CHECK(a.in_use(Proto::Udp, {kE1, 1025}));
        CHECK_FALSE(a.allocate(Proto::Udp, {kIn2, 1025}, 2000));
    }
    SUBCASE("the port comes back after quarantine_ms") {
        const auto ext = a.allocate(Proto::Udp, {kIn2, 1025}, 1000 + 120000);
        CHECK(ext == Endpoint{kE1, 1025});
    }
    SUBCASE("release without quarantine frees at once") {
        a.release(Proto::Udp, {kE1, 1026}, 1000, false);
        CHECK_FALSE(a.in_use(Proto::Udp, {kE1, 1026}));
        CHECK(a.allocate(Proto::Udp, {kIn2, 7000}, 1001) == Endpoint{kE1, 1026});
    }
    SUBCASE("quarantine is per protocol") {
        CHECK(a.allocate(Proto::Tcp, {kIn2, 1025}, 1001) == Endpoint{kE1, 1025});
    }
}

TEST_CASE("CGN-8: quarantine ring overflow releases the oldest port early") {
    auto cfg = pool({kE1}, range(1024, 1031));
    cfg.quarantine_max = 2;
    PortAllocator a(cfg, kSeed);
    for (std::uint16_t p = 1024; p <= 1031; ++p)
        REQUIRE(a.claim(Proto::Udp, {kE1, p}));
    a.release(Proto::Udp, {kE1, 1024}, 10, true);
    a.release(Proto::Udp, {kE1, 1025}, 20, true);
    CHECK(a.used(Proto::Udp) == 8);
    a.release(Proto::Udp, {kE1, 1026}, 30, true);
    CHECK_FALSE(a.in_use(Proto::Udp, {kE1, 1024}));
    CHECK(a.in_use(Proto::Udp, {kE1, 1025}));
    CHECK(a.in_use(Proto::Udp, {kE1, 1026}));
    CHECK(a.used(Proto::Udp) == 7);
    CHECK(a.allocate(Proto::Udp, {kIn1, 9000}, 40) == Endpoint{kE1, 1024});
    // Quarantine expiry keeps ring order: 1025 (t=20) then 1026 (t=30).
    CHECK_FALSE(a.allocate(Proto::Udp, {kIn1, 9000}, 20 + 119999));
    CHECK(a.allocate(Proto::Udp, {kIn1, 9000}, 20 + 120000) == Endpoint{kE1, 1025});
    CHECK(a.allocate(Proto::Udp, {kIn1, 9000}, 30 + 120000) == Endpoint{kE1, 1026});
    CHECK(a.used(Proto::Udp) == 8);
}

TEST_CASE("CGN-8: quarantine switched off releases at once") {
    for (auto [ms, max] : {std::pair{0u, 4096u}, std::pair{120000u, 0u}}) {
        auto cfg = pool({kE1}, range(1024, 1024));
        cfg.quarantine_ms = ms;
        cfg.quarantine_max = max;
        PortAllocator a(cfg, kSeed);
        REQUIRE(a.allocate(Proto::Udp, {kIn1, 1024}, 0));
        a.release(Proto::Udp, {kE1, 1024}, 5, true);
        CHECK_FALSE(a.in_use(Proto::Udp, {kE1, 1024}));
        CHECK(a.allocate(Proto::Udp, {kIn2, 1024}, 5) == Endpoint{kE1, 1024});
    }
}

TEST_CASE("claim and release round trips") {
    PortAllocator a(pool({kE1, kE2}, PortSet::from_ranges({{1024, 2047}, {4000, 4000}})), kSeed);
    CHECK(a.claim(Proto::Udp, {kE2, 4000}));
    CHECK(a.in_use(Proto::Udp, {kE2, 4000}));
    CHECK_FALSE(a.in_use(Proto::Udp, {kE1, 4000}));
    CHECK_FALSE(a.claim(Proto::Udp, {kE2, 4000}));            // already used
    CHECK_FALSE(a.claim(Proto::Udp, {kE2, 4001}));            // not in the port set
    CHECK_FALSE(a.claim(Proto::Udp, {kIn1, 1024}));           // not a pool address
    CHECK_FALSE(a.claim(Proto(99), {kE1, 1024}));             // not a translated protocol
    CHECK(a.used(Proto::Udp) == 1);

    a.release(Proto::Udp, {kE2, 4000}, 0, false);
    CHECK_FALSE(a.in_use(Proto::Udp, {kE2, 4000}));
    CHECK(a.used(Proto::Udp) == 0);

    // Releasing what is not in use, or not in the pool, changes nothing.
    a.release(Proto::Udp, {kE2, 4000}, 0, true);
    a.release(Proto::Udp, {kE2, 4001}, 0, true);
    a.release(Proto::Udp, {kIn1, 1024}, 0, false);
    CHECK(a.used(Proto::Udp) == 0);

    // An allocated endpoint can be claimed back after release (state rebuilt from the kernel).
    const auto ext = a.allocate(Proto::Udp, {kIn1, 1500}, 0);
    REQUIRE(ext);
    CHECK_FALSE(a.claim(Proto::Udp, *ext));
    a.release(Proto::Udp, *ext, 0, false);
    CHECK(a.claim(Proto::Udp, *ext));
    CHECK(a.used(Proto::Udp) == 1);
    CHECK_FALSE(a.allocate(Proto(99), {kIn1, 1500}, 0));
    CHECK(a.used(Proto(99)) == 0);
}

TEST_CASE("duplicate pool addresses are merged, so no endpoint exists twice") {
    PortAllocator a(pool({kE1, kE2, kE1}, range(1024, 1033)), kSeed);
    CHECK(a.config().external_addrs == std::vector<Ipv4>{kE1, kE2});
    CHECK(a.capacity() == 20);
}

TEST_CASE("MAP-1/MAP-5: MAP-E 241st allocation fails") {
    const auto ports = PortSet::map_e(0x2C, 8, 4);
    REQUIRE(ports);
    PortAllocator a(pool({kE1}, *ports), kSeed);
    CHECK(a.capacity() == 240);
    std::set<std::uint16_t> seen;
    for (int i = 0; i < 240; ++i) {
        const auto ext = a.allocate(Proto::Udp, {kIn1 + Ipv4(i % 40), std::uint16_t(40000 + i)}, 0);
        REQUIRE(ext);
        CHECK(ports->contains(ext->port));
        CHECK(((ext->port >> 4) & 0xff) == 0x2C); // RFC 7597 §5.1 PSID(P)
        CHECK((ext->port >> 12) != 0);            // A != 0
        CHECK(seen.insert(ext->port).second);
    }
    CHECK_FALSE(a.allocate(Proto::Udp, {kIn2, 4800}, 0));
    CHECK(a.used(Proto::Udp) == 240);
    // MAP-2: ICMP identifiers come from the same set, in their own space.
    const auto id = a.allocate(Proto::Icmp, {kIn1, 0x1234}, 0);
    REQUIRE(id);
    CHECK(ports->contains(id->port));
}

TEST_CASE("RFC 7422 §2.3 worked example: 4032-port blocks") {
    auto cfg = pool({kE1}, range(1024, 65535));
    cfg.block_size = 4032; // (65536 - 1024) / (14 hosts + D = 2)
    cfg.internal_base = make_ipv4(10, 0, 0, 1);
    PortAllocator a(cfg, kSeed);
    const auto b1 = a.block_for(make_ipv4(10, 0, 0, 1));
    const auto b2 = a.block_for(make_ipv4(10, 0, 0, 2));
    REQUIRE(b1);
    REQUIRE(b2);
    CHECK(cfg.ports.at(b1->first_index) == 1024);
    CHECK(cfg.ports.at(b1->first_index + b1->count - 1) == 5055);
    CHECK(cfg.ports.at(b2->first_index) == 5056);
    CHECK(cfg.ports.at(b2->first_index + b2->count - 1) == 9087);
    // The 15th block starts where the RFC's dynamic pool does.
    CHECK(cfg.ports.at(a.block_for(make_ipv4(10, 0, 0, 15))->first_index) == 57472);
    CHECK_FALSE(a.block_for(make_ipv4(10, 0, 0, 17)));       // past the last block
    CHECK_FALSE(a.block_for(make_ipv4(10, 0, 0, 0)));        // below internal_base
    CHECK_FALSE(a.allocate(Proto::Udp, {make_ipv4(10, 0, 0, 17), 5000}, 0));
    CHECK(a.host_for({kE1, 1024}) == make_ipv4(10, 0, 0, 1));
    CHECK(a.host_for({kE1, 5056}) == make_ipv4(10, 0, 0, 2));
    CHECK_FALSE(a.host_for({kE1, 80}));
    CHECK_FALSE(a.host_for({kE2, 1024}));
}

TEST_CASE("RFC 7422: f2(f1(x)) == x for every port of several hosts") {
    auto cfg = pool({kE1, kE2}, range(1024, 65535));
    cfg.block_size = 4000; // 16 blocks of 4000, 512 ports in no block
    cfg.internal_base = make_ipv4(100, 64, 0, 0);
    PortAllocator a(cfg, kSeed);
    for (std::uint32_t offset : {0u, 1u, 7u, 15u, 16u, 20u, 31u}) {
        const Ipv4 host = cfg.internal_base + offset;
        const auto block = a.block_for(host);
        REQUIRE(block);
        CHECK(block->addr_index == offset / 16);
        CHECK(a.address_index_for(host) == offset / 16);
        const Ipv4 addr = a.config().external_addrs[block->addr_index];
        for (std::uint32_t i = block->first_index; i < block->first_index + block->count; ++i)
            REQUIRE(a.host_for({addr, cfg.ports.at(i)}) == host);
    }
    CHECK_FALSE(a.block_for(cfg.internal_base + 32));
    for (std::uint32_t i = 64000; i < cfg.ports.size(); ++i)
        REQUIRE_FALSE(a.host_for({kE1, cfg.ports.at(i)}));

    SUBCASE("blocks off: no inverse") {
        PortAllocator b(pool({kE1}, range(1024, 65535)), kSeed);
        CHECK_FALSE(b.block_for(cfg.internal_base));
        CHECK_FALSE(b.host_for({kE1, 1024}));
    }
}

TEST_CASE("RFC 7422: a host's ports stay in its block, and a full block fails") {
    auto cfg = pool({kE1}, range(1024, 65535));
    cfg.block_size = 100;
    cfg.internal_base = make_ipv4(10, 0, 0, 0);
    PortAllocator a(cfg, kSeed);
    const Ipv4 host = make_ipv4(10, 0, 0, 5);
    const auto block = *a.block_for(host);
    const std::uint16_t lo = cfg.ports.at(block.first_index), hi = cfg.ports.at(block.first_index + 99);
    // Preserved when the internal port lies in the block, random inside the block otherwise.
    CHECK(a.allocate(Proto::Udp, {host, std::uint16_t(lo + 10)}, 0) == Endpoint{kE1, std::uint16_t(lo + 10)});
    std::uint32_t ok = 1;
    while (auto ext = a.allocate(Proto::Udp, {host, 40000}, 0)) {
        CHECK(ext->port >= lo);
        CHECK(ext->port <= hi);
        CHECK(a.host_for(*ext) == host);
        ++ok;
    }
    CHECK(ok == 100);
    CHECK(a.allocate(Proto::Udp, {make_ipv4(10, 0, 0, 6), 40000}, 0));
}

// RFC 6056 §3.3.3 with a port key (--port-secret): what two routers of an HA pair share.
TEST_CASE("RFC 6056 3.3.3: keyed choice") {
    auto keyed = pool({kE1}, range(20000, 20999));
    keyed.port_key = sip_key_of("both-routers-share-this-secret");
    // Host kIn1 keeps 20010 on both routers (its flow was synced); the others from 20010 are drawn.
    auto other = [](std::uint32_t i) { return Endpoint{make_ipv4(10, 0, 1, 0) + i, 20010}; };

    SUBCASE("the same on two routers whose other allocations differ, whenever the first choice is free") {
        PortAllocator a(keyed, kSeed), b(keyed, kSeed + 1); // their PRNGs play no part
        REQUIRE(a.allocate(Proto::Udp, {kIn1, 20010}, 0) == Endpoint{kE1, 20010});
        REQUIRE(b.allocate(Proto::Udp, {kIn1, 20010}, 0) == Endpoint{kE1, 20010});
        for (std::uint32_t i = 0; i < 150; ++i) { // each router's own history
            REQUIRE(a.allocate(Proto::Udp, {make_ipv4(10, 0, 2, 0) + i, 40000}, 0));
            REQUIRE(b.allocate(Proto::Tcp, {make_ipv4(10, 0, 3, 0) + i, 40000}, 0)); // another protocol:
            REQUIRE(b.allocate(Proto::Udp, {make_ipv4(10, 0, 4, 0) + i, 40001}, 0)); // and UDP
        }
        PortAllocator fresh(keyed, kSeed + 2);
        REQUIRE(fresh.allocate(Proto::Udp, {kIn1, 20010}, 0));
        std::uint32_t free_in_both = 0, same = 0;
        for (std::uint32_t i = 0; i < 200; ++i) {
            PortAllocator fa = fresh, aa = a, bb = b; // each endpoint on the state above
            const auto first = fa.allocate(Proto::Udp, other(i), 0); // its first keyed choice
            REQUIRE(first);
            CHECK(first->port != 20010);
            CHECK((first->port & 1) == 0); // parity kept (REQ-4)
            if (aa.in_use(Proto::Udp, *first) || bb.in_use(Proto::Udp, *first))
                continue;
            ++free_in_both;
            const auto on_a = aa.allocate(Proto::Udp, other(i), 0), on_b = bb.allocate(Proto::Udp, other(i), 0);
            same += on_a == first && on_b == first;
        }
        CHECK(free_in_both > 100);
        CHECK(same == free_in_both);
    }
    SUBCASE("the control: without a key, two routers differ for most endpoints") {
        auto random = keyed;
        random.port_key.reset();
        PortAllocator a(random, kSeed), b(random, kSeed + 1);
        REQUIRE(a.allocate(Proto::Udp, {kIn1, 20010}, 0));
        REQUIRE(b.allocate(Proto::Udp, {kIn1, 20010}, 0));
        std::uint32_t same = 0;
        for (std::uint32_t i = 0; i < 200; ++i)
            same += a.allocate(Proto::Udp, other(i), 0) == b.allocate(Proto::Udp, other(i), 0);
        CHECK(same < 10);
    }
    SUBCASE("another secret, other choices for most of 1000 endpoints") {
        auto other_key = pool({kE1}, range(1024, 65535));
        auto one_key = other_key;
        one_key.port_key = keyed.port_key;
        other_key.port_key = sip_key_of("another-pair-another-secret");
        PortAllocator a(one_key, kSeed), b(other_key, kSeed);
        std::uint32_t same = 0, next_door = 0;
        std::uint16_t last = 0;
        for (std::uint32_t i = 0; i < 1000; ++i) {
            const Endpoint in{make_ipv4(10, 0, 8, 0) + i, 80}; // below the set: never preserved
            const auto x = a.allocate(Proto::Udp, in, 0), y = b.allocate(Proto::Udp, in, 0);
            REQUIRE(x);
            REQUIRE(y);
            same += x == y;
            next_door += x->port > last && x->port - last <= 8;
            last = x->port;
        }
        CHECK(same < 10);
        CHECK(next_door < 10); // spread over the set, not a walk on from one start
    }
    SUBCASE("odd stays odd, and every port is handed out once until the set is full (CGN-11)") {
        PortAllocator a(keyed, kSeed);
        std::set<std::uint16_t> seen;
        for (std::uint32_t i = 0; i < 1000; ++i) { // one endpoint again and again: the scan goes on
            const auto ext = a.allocate(Proto::Udp, {kIn2, 20011}, 0);
            REQUIRE(ext);
            CHECK(seen.insert(ext->port).second);
            if (i < 500)
                CHECK((ext->port & 1) == 1);
        }
        CHECK_FALSE(a.allocate(Proto::Udp, {kIn2, 20011}, 0));
    }
}

} // TEST_SUITE
