// Core benchmark (not a test): translated packets/s on established flows in each direction
// for 1 k, 100 k and 1 M live mappings, new mappings/s, and bytes of memory per mapping.
// Packets visit the flows in random order: the worst case for caches.
#include "conenat/core/nat/translator.hpp"
#include "conenat/core/packet/checksum.hpp"
#include "tests/support/packet_builder.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

using namespace conenat::core;
using conenat::test::Pkt;

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kSlot = 64;  // bytes per packet slot (a 46-byte UDP packet)
constexpr std::size_t kBatch = 64; // packets per process_batch call, as an engine drains a queue

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Flow {
    Endpoint internal, remote, external;
};

// Packet slots built from one template, patched per flow (header checksums recomputed).
std::vector<std::uint8_t> make_packets(const std::vector<Flow>& flows, const std::vector<std::uint32_t>& order, bool inbound) {
    const auto tmpl = Pkt::udp("10.0.0.2:1000", "203.0.113.1:2000").payload("0123456789abcdef").bytes();
    std::vector<std::uint8_t> buf(order.size() * kSlot);
    for (std::size_t i = 0; i < order.size(); ++i) {
        const Flow& f = flows[order[i]];
        std::uint8_t* p = &buf[i * kSlot];
        std::memcpy(p, tmpl.data(), tmpl.size());
        const Endpoint src = inbound ? f.remote : f.internal, dst = inbound ? f.external : f.remote;
        store32(p + 12, src.addr);
        store32(p + 16, dst.addr);
        store16(p + 20, src.port);
        store16(p + 22, dst.port);
        store16(p + 10, 0);
        store16(p + 10, csum_finish(csum_partial({p, 20})));
        store16(p + 26, 0);
        std::uint8_t pseudo[12];
        std::memcpy(pseudo, p + 12, 8);
        pseudo[8] = 0; pseudo[9] = 17;
        store16(pseudo + 10, std::uint16_t(tmpl.size() - 20));
        std::uint16_t c = csum_finish(csum_partial({p + 20, tmpl.size() - 20}, csum_partial({pseudo, 12})));
        store16(p + 26, c ? c : 0xffff);
    }
    return buf;
}

struct Result {
    double pps_out = 0, pps_in = 0, new_per_s = 0, bytes_per_mapping = 0;
};

Result run(NatType type, std::uint32_t n, std::uint32_t min_packets) {
    NatConfig c;
    c.set_type(type);
    // Paired pooling spreads hosts over addresses by hash: give every address headroom.
    const std::uint32_t addrs = std::max<std::uint32_t>(1, n / 40000 + 1);
    c.pool.external_addrs.clear();
    for (std::uint32_t a = 0; a < addrs; ++a) c.pool.external_addrs.push_back(make_ipv4(198, 18, std::uint8_t(a >> 8), std::uint8_t(a)));
    c.max_mappings = n;
    c.max_sessions = n;
    c.pool.quarantine_max = 1024;
    Translator t(c, 12345);
    std::mt19937 rng(7);

    // 256 flows per internal host, each to its own remote.
    std::vector<Flow> flows(n);
    for (std::uint32_t i = 0; i < n; ++i) {
        flows[i].internal = {make_ipv4(10, std::uint8_t(i >> 16), std::uint8_t(i >> 8), 1), std::uint16_t(10000 + (i & 0xff))};
        flows[i].remote = {make_ipv4(203, 0, 113, std::uint8_t(1 + i % 200)), std::uint16_t(1024 + i % 60000)};
    }
    std::vector<std::uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0);

    // New mappings: the first packet of every flow, in flow order.
    auto create = make_packets(flows, order, false);
    TimeMs now = 1000;
    auto t0 = Clock::now();
    for (std::uint32_t i = 0; i < n; ++i) {
        const Outcome o = t.process({&create[i * kSlot], 46}, Direction::Outbound, now);
        if (o.action != Action::ToOutside) {
            std::fprintf(stderr, "flow %u not created: %s\n", i, std::string(to_string(o.reason)).c_str());
            std::exit(1);
        }
    }
    Result r;
    r.new_per_s = n / seconds_since(t0);
    for (std::uint32_t i = 0; i < n; ++i) flows[i].external = {load32(&create[i * kSlot + 12]), load16(&create[i * kSlot + 20])};
    r.bytes_per_mapping = double(t.table().memory_bytes()) / t.table().mapping_count();

    std::shuffle(order.begin(), order.end(), rng);
    for (bool inbound : {false, true}) {
        const auto pristine = make_packets(flows, order, inbound);
        auto work = pristine;
        std::vector<PacketRef> refs(n);
        double spent = 0;
        std::uint64_t done = 0;
        while (done < min_packets) {
            std::memcpy(work.data(), pristine.data(), work.size());
            for (std::uint32_t i = 0; i < n; ++i) refs[i] = PacketRef{{&work[i * kSlot], 46}}; // unparsed again
            t0 = Clock::now();
            for (std::uint32_t i = 0; i < n; i += kBatch)
                t.process_batch({&refs[i], std::min<std::size_t>(kBatch, n - i)}, inbound ? Direction::Inbound : Direction::Outbound, now);
            spent += seconds_since(t0);
            for (std::uint32_t i = 0; i < n; ++i)
                if (refs[i].outcome.action == Action::Drop) {
                    std::fprintf(stderr, "packet dropped: %s\n", std::string(to_string(refs[i].outcome.reason)).c_str());
                    std::exit(1);
                }
            done += n;
        }
        (inbound ? r.pps_in : r.pps_out) = double(done) / spent;
    }
    return r;
}

} // namespace

int main(int argc, char** argv) {
    const std::uint32_t min_packets = argc > 1 ? std::uint32_t(std::stoul(argv[1])) : 5'000'000;
    const std::uint32_t only = argc > 2 ? std::uint32_t(std::stoul(argv[2])) : 0; // one table size only
    std::printf("%-22s %9s %14s %14s %12s %10s\n", "type", "mappings", "pps_out", "pps_in", "new/s", "B/mapping");
    Result summary_1k, summary_1m;
    for (NatType type : {NatType::PortRestrictedCone, NatType::FullCone, NatType::Symmetric}) {
        for (std::uint32_t n : {1'000u, 100'000u, 1'000'000u}) {
            if (only && n != only) continue;
            const Result r = run(type, n, min_packets);
            std::printf("%-22s %9u %14.0f %14.0f %12.0f %10.1f\n", std::string(to_string(type)).c_str(), n, r.pps_out,
                        r.pps_in, r.new_per_s, r.bytes_per_mapping);
            std::fflush(stdout);
            if (type == NatType::PortRestrictedCone) (n == 1'000 ? summary_1k : summary_1m) = n == 1'000 || n == 1'000'000 ? r : (n == 1'000 ? summary_1k : summary_1m);
        }
    }
    const double pps_1k = std::min(summary_1k.pps_out, summary_1k.pps_in);
    const double pps_1m = std::min(summary_1m.pps_out, summary_1m.pps_in);
    std::printf("core: pps_1k=%.0f pps_1m=%.0f ratio_1m_1k=%.2f new_per_s=%.0f bytes_per_mapping=%.0f\n", pps_1k, pps_1m,
                pps_1m / pps_1k, summary_1m.new_per_s, summary_1m.bytes_per_mapping);
}
