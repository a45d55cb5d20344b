// What the software engines (queue, tun) run after a change while they run (SIGHUP, a new WAN
// address): the next configuration and its shard plan. A worker's ports move with the plan:
// with several workers, a mapping whose port the new plan gives to another worker ends (its
// worker's slice no longer has the port), as one outside the new pool does; with one worker
// (the default) only mappings outside the new pool (address or port) end.
#pragma once

#include "conenat/engine/config.hpp"
#include "conenat/util/result.hpp"
#include "engine/software/shard_plan.hpp"

#include <string>
#include <vector>

namespace conenat::engine {

struct LivePlan {
    EngineConfig config;
    ShardPlan plan;
};

// `given` as the engine will run it — with the WAN addresses it follows (`followed`) when they
// come from the interface (external_from_if) — and its plan for `workers` workers. An error
// says why not.
Result<LivePlan> live_plan(EngineConfig given, const std::vector<core::Ipv4>& followed, unsigned workers);


} // namespace conenat::engine
