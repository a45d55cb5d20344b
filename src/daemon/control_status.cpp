// `status`: what runs — engine, NAT type per protocol, addresses, pool, uptime, counts, limits.
#include "control_handlers.hpp"
#include "control_render.hpp"

#include "conenat/engine/clock.hpp"
#include "conenat/util/ctl_request.hpp"
#include "conenat/util/text.hpp"

namespace conenat::daemon {

namespace {

std::string_view engine_name(engine::EngineKind k) {
    return k == engine::EngineKind::Queue ? "queue" : k == engine::EngineKind::Tun ? "tun" : "conntrack";
}

// The RFC 3489 name of a policy, when it has one.
std::string_view type_name(const core::Policy& p) {
    for (core::NatType t : {core::NatType::FullCone, core::NatType::RestrictedCone, core::NatType::PortRestrictedCone,
                            core::NatType::Symmetric})
        if (core::policy_of(t) == p) return core::to_string(t);
    return "custom";
}

struct Limit {
    const char* name;
    std::uint64_t value;
};

} // namespace

ControlReply handle_status(const ctl::Request& request, ControlContext& context) {
    auto view = context.engine.view({});
    if (!view) return control_error("the engine did not answer: " + view.error());
    const core::NatConfig& c = view->config;
    const engine::EngineConfig& start = context.start_config;
    const std::uint64_t uptime_s = (engine::now_ms() - context.started_ms) / 1000;
    const std::pair<core::Proto, const core::Policy*> protos[] = {
        {core::Proto::Udp, &c.udp}, {core::Proto::Tcp, &c.tcp}, {core::Proto::Icmp, &c.icmp}};
    const Limit limits[] = {{"max_mappings", c.max_mappings},
                            {"max_sessions", c.max_sessions},
                            {"per_host_mappings", c.per_host_mappings},
                            {"inbound_per_mapping", c.max_inbound_per_mapping},
                            {"inbound_per_remote", c.max_inbound_per_remote},
                            {"held_syns", c.max_held_syns},
                            {"held_syns_per_source", c.max_held_syns_per_source}};
    const Limit timeouts[] = {{"udp", c.timeouts.udp_ms / 1000},
                              {"udp_short", c.timeouts.udp_short_ms / 1000},
                              {"tcp_established", c.timeouts.tcp_established_ms / 1000},
                              {"tcp_transitory", c.timeouts.tcp_transitory_ms / 1000},
                              {"icmp", c.timeouts.icmp_ms / 1000}};
    if (request.json) {
        JsonWriter j;
        j.begin_object().key("engine").value(engine_name(start.engine)).key("uptime_s").value(uptime_s);
        j.key("nat").begin_object();
        for (const auto& [p, policy] : protos)
            j.key(ctl::proto_name(p)).begin_object().key("type").value(type_name(*policy))
                .key("mapping").value(core::to_string(policy->mapping))
                .key("filtering").value(core::to_string(policy->filtering)).end_object();
        j.end_object();
        if (!view->role.empty()) j.key("role").value(view->role);
        j.key("external_interface").value(start.external_if).key("addresses_follow_interface").value(start.external_from_if);
        j.key("external_addresses").begin_array();
        for (core::Ipv4 a : c.pool.external_addrs) j.value(text::format_ipv4(a));
        j.end_array();
        j.key("internal_networks").begin_array();
        for (const core::Prefix& p : start.internal) j.value(text::format_ipv4(p.addr) + "/" + std::to_string(p.len));
        j.end_array();
        j.key("pool").begin_object().key("ports").value(ports_text(c.pool.ports))
            .key("port_count").value(std::uint64_t(c.pool.ports.size()))
            .key("block_size").value(std::uint64_t(c.pool.block_size)).end_object();
        j.key("mappings").value(view->mapping_count).key("sessions").value(view->session_count);
        j.key("tables").value(std::uint64_t(view->tables)).key("forwards").value(std::uint64_t(c.forwards.size()));
        j.key("limits").begin_object();
        for (const Limit& l : limits) j.key(l.name).value(l.value);
        j.end_object().key("timeouts_s").begin_object();
        for (const Limit& l : timeouts) j.key(l.name).value(l.value);
        j.end_object().end_object();
        return {{}, j.take()};
    }
    TextTable t({"engine", std::string(engine_name(start.engine))});
    if (!view->role.empty()) // an HA pair's member (--takeover-grace): does the WAN hold the external address?
        t.add({"role", view->role + (view->role == "active" ? " (the external address is on " : " (no external address on ") +
                           start.external_if +
                           (view->takeover_left_ms ? "; taking over: new mappings wait " + std::to_string(view->takeover_left_ms) +
                                                         " ms more for the synced flows"
                                                   : "") +
                           ")"});
    t.add({"uptime", duration_text(uptime_s * 1000)});
    for (const auto& [p, policy] : protos)
        t.add({"nat " + std::string(ctl::proto_name(p)),
               std::string(type_name(*policy)) + " (" + std::string(core::to_string(policy->mapping)) + " mapping, " +
                   std::string(core::to_string(policy->filtering)) + " filtering)"});
    std::string addrs;
    for (core::Ipv4 a : c.pool.external_addrs) addrs += (addrs.empty() ? "" : ", ") + text::format_ipv4(a);
    if (addrs.empty()) addrs = "none (NAT paused until " + start.external_if + " has one)";
    t.add({"external", addrs + (start.external_from_if ? "  (followed on " + start.external_if + ")" : "")});
    std::string nets;
    for (const core::Prefix& p : start.internal)
        nets += (nets.empty() ? "" : ", ") + text::format_ipv4(p.addr) + "/" + std::to_string(p.len);
    t.add({"internal", nets});
    t.add({"ports", ports_text(c.pool.ports) + " (" + std::to_string(c.pool.ports.size()) + " ports" +
                        (c.pool.block_size ? ", blocks of " + std::to_string(c.pool.block_size) + " per host" : "") + ")"});
    t.add({"mappings", std::to_string(view->mapping_count) + " (limit " + std::to_string(c.max_mappings) + ", " +
                           std::to_string(c.per_host_mappings) + " per host)"});
    t.add({"sessions", std::to_string(view->session_count) + " (limit " + std::to_string(c.max_sessions) + ")"});
    if (view->tables > 1) t.add({"tables", std::to_string(view->tables) + " (one per worker)"});
    t.add({"forwards", std::to_string(c.forwards.size())});
    std::string lim;
    for (const Limit& l : limits)
        if (std::string_view(l.name).rfind("max_", 0) != 0 && std::string_view(l.name) != "per_host_mappings")
            lim += (lim.empty() ? "" : ", ") + std::string(l.name) + " " + std::to_string(l.value);
    t.add({"limits", lim});
    std::string tmo;
    for (const Limit& l : timeouts)
        if (l.value) tmo += (tmo.empty() ? "" : ", ") + std::string(l.name) + " " + duration_text(l.value * 1000);
    t.add({"timeouts", tmo});
    return {{}, t.render()};
}

} // namespace conenat::daemon
