#include "live_config.hpp"

#include "conenat/util/log.hpp"
#include "conenat/util/text.hpp"

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

namespace {
std::string addresses(const std::vector<core::Ipv4>& addrs) {
    std::string out;
    for (core::Ipv4 a : addrs)
        out += (out.empty() ? "" : ", ") + text::format_ipv4(a);
    return out.empty() ? "none" : out;
}
} // namespace

void log_wan_change(const std::string& wan_if, const std::vector<core::Ipv4>& before,
                    const std::vector<core::Ipv4>& now) {
    if (now.empty())
        LOG_WARN("%s has no IPv4 address (was %s): NAT paused until one comes", wan_if.c_str(),
                 addresses(before).c_str());
    else
        LOG_INFO("%s addresses now %s (was %s): new mappings use them", wan_if.c_str(), addresses(now).c_str(),
                 addresses(before).c_str());
}

void log_wan_error(const std::string& wan_if, const std::string& error) {
    LOG_ERROR("%s: the new addresses are not applied: %s", wan_if.c_str(), error.c_str());
}

} // namespace conenat::engine
