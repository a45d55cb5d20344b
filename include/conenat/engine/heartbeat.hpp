// A datapath thread's proof of life: it stamps the time once per round of its loop (one relaxed
// store); Engine::alive() reads the stamps, and the daemon's systemd watchdog pings only while
// they are recent, so a thread stuck in a call ends the pings and systemd restarts the daemon.
#pragma once

#include "conenat/core/types.hpp"
#include "conenat/engine/clock.hpp"

#include <atomic>

namespace conenat::engine {

class Heartbeat {
public:
    // The loops poll with a timeout of at most 250 ms: seconds of silence mean a stuck thread.
    static constexpr core::TimeMs kStuckMs = 5000;

    void beat(core::TimeMs now) { m_last.store(now, std::memory_order_relaxed); }
    // Whether it beat within kStuckMs of `now` (now_ms()); a new one counts from its creation.
    bool recent(core::TimeMs now) const { return now - m_last.load(std::memory_order_relaxed) <= kStuckMs; }

private:
    std::atomic<core::TimeMs> m_last{now_ms()};
};

} // namespace conenat::engine
