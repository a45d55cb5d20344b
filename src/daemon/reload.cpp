#include "conenat/daemon/reload.hpp"

#include "conenat/daemon/system.hpp"
#include "conenat/util/log.hpp"

#include <string>
#include <vector>

namespace conenat::daemon {

namespace {

// Gives `next` the running value of every restart-only key (needs_restart()).
void keep_restart_keys(Options& next, const Options& current) {
    static_cast<engine::EngineConfig&>(next).engine = current.engine;
    next.queues = current.queues;
    next.queue_out = current.queue_out;
    next.queue_in = current.queue_in;
    next.queue_maxlen = current.queue_maxlen;
    next.table = current.table;
    next.mark = current.mark;
    next.tun_name = current.tun_name;
    next.rules_auto = current.rules_auto;
    next.fail_open = current.fail_open;
    next.event_buffer = current.event_buffer;
    next.resync_interval_s = current.resync_interval_s;
    next.conntrack_events_all = current.conntrack_events_all;
    next.takeover_grace_ms = current.takeover_grace_ms;
    next.external_if = current.external_if;
    next.foreground = current.foreground;
    next.pid_file = current.pid_file;
    next.control_socket = current.control_socket;
}

std::string joined(const std::vector<std::string>& keys) {
    std::string s;
    for (const std::string& k : keys) s += (s.empty() ? "" : ", ") + k;
    return s;
}

Error refused(const std::string& why) {
    LOG_ERROR("reload refused, the running configuration stays: %s", why.c_str());
    return Error{"reload refused, the running configuration stays: " + why};
}

} // namespace

Result<std::string> reload(Options& current, int argc, char** argv, engine::Engine& engine) {
    ParseResult parsed = parse_options(argc, argv);
    if (!parsed.options) {
        return refused(parsed.error);
    }
    Options next = std::move(*parsed.options);
    std::vector<std::string> changed, kept;
    for (const auto& [key, value] : next.values) {
        const auto old = current.values.find(key);
        if (old != current.values.end() && old->second == value) continue;
        (needs_restart(key) ? kept : changed).push_back(key);
    }
    for (const auto& [key, value] : current.values)
        if (!next.values.count(key)) (needs_restart(key) ? kept : changed).push_back(key);
    if (!kept.empty()) {
        LOG_WARN("reload: %s only change%s on a restart: kept as running", joined(kept).c_str(),
                 kept.size() == 1 ? "s" : "");
        keep_restart_keys(next, current);
        for (const std::string& k : kept) {
            if (current.values.count(k)) next.values[k] = current.values.at(k);
            else next.values.erase(k);
        }
    }
    if (Status s = resolve_system(next); !s) {
        return refused(s.error());
    }
    // The same keys, but the ruleset's own DNAT rules changed the pool (resolve_system).
    if (changed.empty() && next.nat.pool.ports.ranges() != current.nat.pool.ports.ranges())
        changed.push_back("ports (the ruleset's DNAT rules)");
    if (changed.empty()) {
        LOG_NOTICE("reload: configuration unchanged");
        return std::string("configuration unchanged");
    }
    if (Status s = engine.reconfigure(next); !s) {
        return refused(s.error());
    }
    util::log_init(next.log_level, !next.foreground);
    current = std::move(next);
    LOG_NOTICE("reloaded: %s", joined(changed).c_str());
    return "reloaded: " + joined(changed);
}

} // namespace conenat::daemon
