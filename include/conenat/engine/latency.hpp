// A lock-free latency histogram (log2 buckets of microseconds) for the stats file: where the
// time of a first packet goes. Written by one thread, read by another.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace conenat::engine {

class LatencyHistogram {
public:
    void add(std::uint64_t us) {
        std::size_t b = 0;
        while (b + 1 < kBuckets && (std::uint64_t(1) << (b + 1)) <= us) ++b;
        m_buckets[b].fetch_add(1, std::memory_order_relaxed);
    }
    // Upper bound (us) of the bucket holding quantile q (0..1); 0 when empty.
    std::uint64_t quantile(double q) const {
        std::uint64_t total = 0, counts[kBuckets];
        for (std::size_t b = 0; b < kBuckets; ++b) total += counts[b] = m_buckets[b].load(std::memory_order_relaxed);
        if (total == 0) return 0;
        const std::uint64_t want = std::uint64_t(q * double(total - 1)) + 1;
        std::uint64_t seen = 0;
        for (std::size_t b = 0; b < kBuckets; ++b)
            if ((seen += counts[b]) >= want) return std::uint64_t(1) << (b + 1);
        return std::uint64_t(1) << kBuckets;
    }

private:
    static constexpr std::size_t kBuckets = 24;
    std::array<std::atomic<std::uint64_t>, kBuckets> m_buckets{};
};

} // namespace conenat::engine
