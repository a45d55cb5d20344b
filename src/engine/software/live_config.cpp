#include "live_config.hpp"


namespace conenat::engine {

Result<LivePlan> live_plan(EngineConfig given, const std::vector<core::Ipv4>& followed, unsigned workers) {
    if (given.external_from_if)
        given.nat.pool.external_addrs = followed;
    if (const std::string_view why = core::validate(given.nat); !why.empty())
        return Error{std::string(why)};
    if (given.internal.empty())
        return Error{"--internal-net: at least one prefix"};
    std::string error;
    ShardPlan plan = plan_shards(given.nat, given.internal, workers, &error);
    if (!error.empty())
        return Error{"--" + error};
    return LivePlan{std::move(given), std::move(plan)};
}

} // namespace conenat::engine
