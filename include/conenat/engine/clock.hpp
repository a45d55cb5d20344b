// What the engines give the core from the system: its clock (monotonic milliseconds) and the
// seed of its port choice (the kernel's entropy: ports must not be predictable, RFC 6056).
#pragma once

#include "conenat/core/types.hpp"

#include <chrono>
#include <cstdint>
#include <random>

namespace conenat::engine {

inline core::TimeMs now_ms() {
    return core::TimeMs(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count());
}

inline std::uint64_t random_seed() {
    std::random_device rd;
    return std::uint64_t(rd()) << 32 | rd();
}

} // namespace conenat::engine
