// The operators' mapping log: the line format (UTC with ms, event, protocol, endpoints, the
// duration on removal; blocks with their port range), the table's block events (RFC 7422: once
// when a host's first mapping takes its block, once when its last one ends), and a buffer that
// writes its lines to a real file at flush and counts what does not fit instead of waiting.
#include "src/engine/common/mapping_log.hpp"
#include "src/engine/common/mapping_log_line.hpp"
#include "tests/support/scenario.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace conenat;
using namespace conenat::core;
using namespace conenat::engine;
using conenat::test::ep;
using conenat::test::lab_config;

namespace {

constexpr std::uint64_t kWall = 1764712500123; // 2025-12-02T21:55:00.123Z

std::string line(const MappingRecord& r) {
    std::array<char, kMappingLineMax> buf{};
    const std::size_t n = format_mapping_line(r, buf);
    return std::string(buf.data(), n);
}

struct Blocks : MappingObserver {
    std::vector<BlockUse> used, released;
    void mapping_created(const Mapping&, TimeMs) override {}
    void mapping_removed(const Mapping&, TimeMs, TimeMs) override {}
    void block_allocated(const BlockUse& b, TimeMs) override { used.push_back(b); }
    void block_released(const BlockUse& b, TimeMs) override { released.push_back(b); }
};

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

} // namespace

TEST_CASE("mapping log: one line per event, UTC with milliseconds") {
    CHECK(line({MappingEvent::Created, Proto::Udp, ep("10.0.0.2:5400"), ep("198.51.100.254:40000"), 0, kWall, 0}) ==
          "2025-12-02T21:55:00.123Z event=mapping-created proto=udp internal=10.0.0.2:5400 external=198.51.100.254:40000\n");
    CHECK(line({MappingEvent::Removed, Proto::Tcp, ep("10.0.0.3:80"), ep("198.51.100.254:1024"), 0, kWall + 1000 * 3600, 7441}) ==
          "2025-12-02T22:55:00.123Z event=mapping-removed proto=tcp internal=10.0.0.3:80 external=198.51.100.254:1024 "
          "duration=7441\n");
    CHECK(line({MappingEvent::Created, Proto::Icmp, ep("10.0.0.3:7"), ep("198.51.100.254:7"), 0, 5, 0}) ==
          "1970-01-01T00:00:00.005Z event=mapping-created proto=icmp internal=10.0.0.3:7 external=198.51.100.254:7\n");
    CHECK(line({MappingEvent::BlockAllocated, {}, ep("10.0.0.2:0"), ep("198.51.100.254:1088"), 1151, kWall, 0}) ==
          "2025-12-02T21:55:00.123Z event=block-allocated internal=10.0.0.2 external=198.51.100.254 ports=1088-1151\n");
    CHECK(line({MappingEvent::BlockReleased, {}, ep("10.0.0.2:0"), ep("198.51.100.254:1088"), 1151, kWall, 61}) ==
          "2025-12-02T21:55:00.123Z event=block-released internal=10.0.0.2 external=198.51.100.254 ports=1088-1151 "
          "duration=61\n");
    // The longest line fits its bound; a buffer too short gets nothing, never half a line.
    const MappingRecord longest{MappingEvent::Removed, Proto::Icmp, ep("255.255.255.255:65535"), ep("255.255.255.255:65535"),
                                65535, ~std::uint64_t(0) / 1000000, ~std::uint64_t(0)};
    CHECK(line(longest).size() > 100);
    std::array<char, 40> small{};
    CHECK(format_mapping_line(longest, small) == 0);
}

TEST_CASE("mapping log: a host's port block is logged when its first mapping comes and its last goes") {
    NatConfig c = lab_config(NatType::FullCone);
    c.pool.ports = PortSet::from_ranges({{1024, 2047}});
    c.pool.block_size = 64;
    c.pool.internal_base = ep("10.0.0.0:0").addr;
    c.per_host_mappings = 0; // counted for the blocks alone
    MappingTable t(c, 1);
    Blocks seen;
    t.set_observer(&seen);
    Counter why{};
    const TimeMs t0 = 10'000;
    REQUIRE(t.create(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), t0, why) != kNil);
    REQUIRE(t.create(Proto::Tcp, ep("10.0.0.2:5001"), ep("203.0.113.5:80"), t0 + 1000, why) != kNil);
    REQUIRE(seen.used.size() == 1);
    const BlockUse b = seen.used[0]; // a copy: the vector grows below
    CHECK(b.host == ep("10.0.0.2:0").addr);
    CHECK(b.last_port - b.first_port == 63);
    CHECK(b.since_s == t0 / 1000);
    const auto block = t.ports().block_for(b.host);
    REQUIRE(block);
    CHECK(b.first_port == c.pool.ports.at(block->first_index));
    // Another host: its own block, its own line.
    REQUIRE(t.create(Proto::Udp, ep("10.0.0.3:5000"), ep("203.0.113.5:7000"), t0, why) != kNil);
    CHECK(seen.used.size() == 2);
    CHECK(seen.used[1].first_port != b.first_port);
    // Every mapping expires: each block is given up once, with the time it was taken.
    t.expire(t0 + 8'000'000);
    REQUIRE(seen.released.size() == 2);
    CHECK(seen.released[0].since_s == t0 / 1000);
    CHECK(seen.used.size() == 2);
}

TEST_CASE("mapping log: a buffer writes its lines to the file at flush, counts what does not fit") {
    char dir[] = "/tmp/conenat-maplog-XXXXXX";
    REQUIRE(::mkdtemp(dir));
    const std::string path = std::string(dir) + "/mappings.log";
    MappingLog& log = MappingLog::instance();
    REQUIRE(log.configure({MappingLogMode::Mappings, path, "/dev/log"}));
    MappingTable t(lab_config(NatType::FullCone), 1);
    auto buffer = std::make_unique<MappingLogBuffer>();
    t.set_observer(buffer.get());
    Counter why{};
    REQUIRE(t.create(Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7000"), 1000, why) != kNil);
    CHECK(slurp(path).empty()); // nothing written before the flush
    buffer->flush();
    const std::string text = slurp(path);
    CHECK(text.find(" event=mapping-created proto=udp internal=10.0.0.2:5000 external=198.51.100.254:5000\n") !=
          std::string::npos);
    // More lines than the buffer holds: the rest are counted lost, and the file has whole lines.
    const std::string before = log.stats();
    Mapping m{};
    m.proto = Proto::Udp;
    m.int_addr = ep("10.0.0.9:0").addr;
    m.ext_addr = ep("198.51.100.254:0").addr;
    const std::size_t n = MappingLogBuffer::kCapacity / 80 + 200;
    for (std::size_t i = 0; i < n; ++i) buffer->mapping_created(m, 0);
    CHECK(buffer->due());
    buffer->flush();
    const std::string after = log.stats();
    CHECK(after != before);
    CHECK(after.find("mapping_log_lost 0\n") == std::string::npos);
    const std::string all = slurp(path);
    CHECK(all.back() == '\n');
    // Off: nothing more is written.
    REQUIRE(log.configure({}));
    buffer->mapping_created(m, 0);
    buffer->flush();
    CHECK(slurp(path) == all);
    std::remove(path.c_str());
    ::rmdir(dir);
}
