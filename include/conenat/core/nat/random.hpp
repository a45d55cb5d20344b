// A small, fast, seedable PRNG for port selection (RFC 6056 algorithm 1). The core reads
// no entropy itself: the daemon seeds it from the kernel.
#pragma once

#include <cstdint>

namespace conenat::core {

// `x` (uniform over 32 bits) scaled to [0, bound), bound > 0 (Lemire's multiply-shift; bias < 2^-32).
constexpr std::uint32_t scale_below(std::uint32_t x, std::uint32_t bound) {
    return std::uint32_t((std::uint64_t(x) * bound) >> 32);
}

class Random {
public:
    explicit Random(std::uint64_t seed) : m_state(seed) {}
    std::uint64_t next() { // splitmix64
        std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, bound), bound > 0.
    std::uint32_t below(std::uint32_t bound) { return scale_below(std::uint32_t(next()), bound); }

private:
    std::uint64_t m_state;
};

// A stateless 32-bit mixer (murmur3 fmix32), stable across runs: used where a choice must
// survive a restart (paired pooling), never for secrets.
constexpr std::uint32_t mix32(std::uint32_t h) {
    h ^= h >> 16; h *= 0x85ebca6bU; h ^= h >> 13; h *= 0xc2b2ae35U; h ^= h >> 16;
    return h;
}

} // namespace conenat::core
