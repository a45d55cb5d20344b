// The loop every software worker's thread runs (queue and tun alike): wait for its port or
// kPollMs, work what is ready, then keep house — held SYNs expire every round, the core's
// timers every kExpireMs, statistics are published every kPublishMs and once more at the end.
#pragma once

#include "conenat/core/types.hpp"
#include "conenat/io/fd.hpp"
#include "conenat/io/poll.hpp"

namespace conenat::engine {

constexpr core::TimeMs kPublishMs = 250, kExpireMs = 500;
constexpr int kPollMs = 100; // also the lateness bound of an expired SYN hold

// What run_worker needs of a worker (a port and its translator):
//   void watch(io::Poller&)                  its port's fds
//   core::TimeMs work(const io::Poller&, core::TimeMs now)   the ready ones; returns the time it ended at
//   void poll_failed()                       count it
//   void expire_holds(core::TimeMs now), void expire(core::TimeMs now)
//   void end_round()                         send what the round queued (verdicts, raw packets)
//   void publish()
//   void beat(core::TimeMs now)              a round went by (its Heartbeat)
//   void serve_view(core::TimeMs now)        copy its table if conenatctl asked (ViewSlot)
template <typename Worker, typename Clock>
void run_worker(Worker& w, const io::EventFd& stop, Clock&& clock) {
    io::Poller poller;
    w.watch(poller);
    const std::size_t stop_index = poller.watch(stop);
    core::TimeMs last_publish = 0, last_expire = 0;
    for (;;) {
        if (!poller.wait(kPollMs))
            w.poll_failed();
        if (poller.readable(stop_index))
            break;
        const core::TimeMs now = w.work(poller, clock());
        w.beat(now);
        w.expire_holds(now);
        if (now - last_expire >= kExpireMs) {
            w.expire(now);
            last_expire = now;
        }
        w.end_round();
        w.serve_view(now);
        if (now - last_publish >= kPublishMs) {
            w.publish();
            last_publish = now;
        }
    }
    w.publish();
}

} // namespace conenat::engine
