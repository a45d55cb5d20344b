// `check`: the daemon's side of `conenatctl check` — is the configured NAT really in place?
// The findings of engine/common/health_check (about a second: counters are sampled twice).
// With --stun-server the last line is "stun-source: A", the WAN address conenatctl runs the
// STUN tests from (it removes that line before printing).
#include "control_handlers.hpp"

#include "conenat/io/rtnetlink.hpp"
#include "conenat/util/text.hpp"
#include "engine/common/health_check.hpp"

namespace conenat::daemon {

ControlReply handle_check(const ctl::Request& request, ControlContext& context) {
    auto view = context.engine.view({});
    if (!view) return control_error("the engine did not answer: " + view.error());
    // The configuration as it runs now (a reload or the WAN may have changed it since start).
    engine::EngineConfig config = context.start_config;
    config.nat = view->config;
    auto system = engine::read_system_view(config);
    if (!system) return control_error("cannot read the system's state: " + system.error());
    std::string body;
    for (const Finding& f : engine::check_view(config, engine::rule_set(config), *system)) body += render(f);
    if (!request.stun_server.empty()) {
        // The address the NAT uses first: its first external address, else the WAN's own.
        core::Ipv4 source = config.nat.pool.external_addrs.empty() ? 0 : config.nat.pool.external_addrs.front();
        if (source == 0 && system->wan_addresses && !system->wan_addresses->empty()) source = system->wan_addresses->front();
        if (source != 0) body += "stun-source: " + text::format_ipv4(source) + "\n";
    }
    return {{}, body};
}

} // namespace conenat::daemon
