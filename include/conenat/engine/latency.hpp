// A lock-free latency histogram (log2 buckets of microseconds, and their sum): where the time
// of a first packet goes, for the stats file's quantiles and the Prometheus histogram. Written
// by one thread, read by another.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace conenat::engine {

// A histogram's counts as read at one moment: bucket b holds the values below 2^(b+1) µs not
// in a lower bucket; the last one everything above.
struct LatencySnapshot {
    static constexpr std::size_t kBuckets = 24;
    std::array<std::uint64_t, kBuckets> counts{};
    std::uint64_t sum_us = 0;
    // The upper bound (exclusive, µs) of bucket b (not the last: it has none).
    static constexpr std::uint64_t upper_us(std::size_t b) { return std::uint64_t(1) << (b + 1); }
};

// A histogram under its name (e.g. "first_packet"), as an engine offers it to the metrics.
struct NamedLatency {
    std::string_view name;
    std::string_view help;
    LatencySnapshot snapshot;
};

class LatencyHistogram {
public:
    static constexpr std::size_t kBuckets = LatencySnapshot::kBuckets;

    void add(std::uint64_t us) {
        std::size_t b = 0;
        while (b + 1 < kBuckets && LatencySnapshot::upper_us(b) <= us) ++b;
        m_buckets[b].fetch_add(1, std::memory_order_relaxed);
        m_sum_us.fetch_add(us, std::memory_order_relaxed);
    }
    LatencySnapshot snapshot() const {
        LatencySnapshot s;
        for (std::size_t b = 0; b < kBuckets; ++b) s.counts[b] = m_buckets[b].load(std::memory_order_relaxed);
        s.sum_us = m_sum_us.load(std::memory_order_relaxed);
        return s;
    }
    // Upper bound (us) of the bucket holding quantile q (0..1); 0 when empty.
    std::uint64_t quantile(double q) const {
        const LatencySnapshot s = snapshot();
        std::uint64_t total = 0;
        for (std::uint64_t c : s.counts) total += c;
        if (total == 0) return 0;
        const std::uint64_t want = std::uint64_t(q * double(total - 1)) + 1;
        std::uint64_t seen = 0;
        for (std::size_t b = 0; b < kBuckets; ++b)
            if ((seen += s.counts[b]) >= want) return LatencySnapshot::upper_us(b);
        return LatencySnapshot::upper_us(kBuckets - 1);
    }

private:
    std::array<std::atomic<std::uint64_t>, kBuckets> m_buckets{};
    std::atomic<std::uint64_t> m_sum_us{0};
};

} // namespace conenat::engine
