// Heartbeat: the proof of life the systemd watchdog reads (Engine::alive).
#include "conenat/engine/heartbeat.hpp"

#include <doctest/doctest.h>

using conenat::engine::Heartbeat;

TEST_SUITE("engine: heartbeat") {

TEST_CASE("a new heartbeat counts as recent from its creation") {
    const Heartbeat h;
    CHECK(h.recent(conenat::engine::now_ms()));
}

TEST_CASE("recent up to kStuckMs after the last beat, stuck after") {
    Heartbeat h;
    h.beat(1'000'000);
    CHECK(h.recent(1'000'000));
    CHECK(h.recent(1'000'000 + Heartbeat::kStuckMs));
    CHECK_FALSE(h.recent(1'000'000 + Heartbeat::kStuckMs + 1));
    h.beat(1'000'000 + Heartbeat::kStuckMs + 1); // the thread went round again
    CHECK(h.recent(1'000'000 + 2 * Heartbeat::kStuckMs));
}

} // TEST_SUITE
