// The engines' clock for the core's timers: monotonic milliseconds.
#pragma once

#include "conenat/core/types.hpp"

#include <chrono>

namespace conenat::engine {

inline core::TimeMs now_ms() {
    return core::TimeMs(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count());
}

} // namespace conenat::engine
