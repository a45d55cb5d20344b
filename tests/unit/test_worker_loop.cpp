// The loop every software worker runs (worker_loop.hpp), with a fake port: an EventFd stands in
// for the NFQUEUE socket or TUN queue, and the clock is the test's. No root needed.
#include "src/engine/software/worker_loop.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace conenat;

namespace {

// A worker whose port is an EventFd: a "packet" is a signal; it stops itself after `rounds`.
struct FakeWorker {
    io::EventFd port = std::move(io::EventFd::open().value());
    const io::EventFd* stop = nullptr;
    core::TimeMs clock = 0;
    int rounds = 0, worked = 0, published = 0, expired = 0, hold_sweeps = 0, ended = 0, beats = 0;
    std::size_t index = 0;
    std::vector<std::string> log;

    void watch(io::Poller& p) { index = p.watch(port); }
    core::TimeMs work(const io::Poller& p, core::TimeMs now) {
        if (p.readable(index)) {
            port.clear();
            ++worked;
            log.push_back("work");
        }
        if (worked == rounds)
            stop->signal();
        else
            port.signal(); // the next packet is waiting already
        return now;
    }
    void poll_failed() { log.push_back("poll failed"); }
    void expire_holds(core::TimeMs) { ++hold_sweeps; }
    void expire(core::TimeMs) { ++expired; }
    void end_round() { ++ended; }
    void serve_view(core::TimeMs) {}
    void publish() { ++published; }
    void beat(core::TimeMs) { ++beats; }
};

} // namespace

TEST_SUITE("software datapath: worker loop") {

TEST_CASE("works each ready round, keeps house on its clock, and publishes once more when stopped") {
    auto stop = io::EventFd::open();
    REQUIRE(stop);
    FakeWorker w;
    w.stop = &*stop;
    w.rounds = 10;
    w.port.signal();
    // Each round the clock moves 100 ms: timers every 500 ms, statistics every 250 ms.
    engine::run_worker(w, *stop, [&w] { return w.clock += 100; });
    CHECK(w.worked == 10);
    CHECK(w.hold_sweeps == 10); // every round
    CHECK(w.ended == 10);
    CHECK(w.beats == 10); // the heartbeat: once a round
    CHECK(w.expired == 2);         // at 500 and 1000 ms
    CHECK(w.published == 3 + 1);   // at 300, 600, 900 ms (250 ms after the last), and at the end
    CHECK(w.log == std::vector<std::string>(10, "work"));
}

TEST_CASE("a stop already signalled ends the loop before any work") {
    auto stop = io::EventFd::open();
    REQUIRE(stop);
    FakeWorker w;
    w.stop = &*stop;
    w.port.signal();
    stop->signal();
    engine::run_worker(w, *stop, [&w] { return w.clock += 100; });
    CHECK(w.worked == 0);
    CHECK(w.published == 1);
}

} // TEST_SUITE
