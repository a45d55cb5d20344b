#include "tests/support/scenario.hpp"

#include <doctest/doctest.h>

namespace conenat::test {

using namespace core;

NatConfig lab_config(NatType type, std::vector<const char*> external) {
    NatConfig c;
    c.set_type(type);
    c.pool.external_addrs.clear();
    for (const char* a : external) c.pool.external_addrs.push_back(ip(a));
    c.max_mappings = 1024;
    c.max_sessions = 2048;
    return c;
}

NatConfig small_config(NatType type) {
    NatConfig c = lab_config(type);
    c.max_mappings = 64;
    c.max_sessions = 128;
    return c;
}

namespace {

// Eager: the whole table swept before every step that moves the clock (every record freed on
// time). Lazy: what the engines do — the per-packet budgeted sweep inside the translator, and a
// full sweep after a round once kFullSweepMs passed since the last (software/worker_loop.hpp's kExpireMs),
// so expired records are met by lookups before anything frees them.
enum class Schedule { Eager, Lazy };
constexpr TimeMs kFullSweepMs = 500;

void run_under(const Scenario& s, Schedule schedule) {
    Translator t(s.config, 42);
    TimeMs now = 1'000'000, last_sweep = now;
    std::vector<Seen> seen;
    for (std::size_t i = 0; i < s.steps.size(); ++i) {
        const Step& step = s.steps[i];
        INFO(s.id, ": ", s.what, " — step ", i + 1, schedule == Schedule::Eager ? " (eager sweeps)" : " (lazy sweeps)");
        now += step.advance_ms;
        if (schedule == Schedule::Eager && step.advance_ms) t.expire(now);
        Seen r;
        r.packet = step.input;
        r.reply.assign(576, 0);
        r.outcome = t.process(r.packet, step.dir, now, r.reply);
        r.reply.resize(r.outcome.reply_len);
        r.view = parse_ipv4(r.packet);
        INFO("in:  ", hex(step.input));
        INFO("out: ", hex(r.packet));
        CHECK(int(r.outcome.action) == int(step.action));
        if (step.action == Action::Drop || step.action == Action::Hold)
            CHECK(to_string(r.outcome.reason) == to_string(step.reason));
        if (r.outcome.action == Action::ToInside || r.outcome.action == Action::ToOutside) {
            CHECK(checksum_errors(r.packet) == "");
            if (!step.expected.empty()) CHECK(hex(r.packet) == hex(step.expected));
        }
        if (!r.reply.empty()) CHECK(checksum_errors(r.reply) == "");
        if (step.check) step.check(r, seen);
        CHECK(t.table().consistency_error() == "");
        seen.push_back(std::move(r));
        if (schedule == Schedule::Lazy && now - last_sweep >= kFullSweepMs) {
            t.expire(now);
            last_sweep = now;
        }
    }
}

} // namespace

void run(const Scenario& s) {
    run_under(s, Schedule::Lazy);
    run_under(s, Schedule::Eager);
}

} // namespace conenat::test
