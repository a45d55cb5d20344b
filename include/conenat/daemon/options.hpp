// The daemon's settings, from the command line and the config file (whose keys are the long
// option names). Boost.Program_options stays inside options.cpp.
#pragma once

#include "conenat/engine/config.hpp"
#include "conenat/engine/mapping_log.hpp"
#include "conenat/util/log.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace conenat::daemon {

using engine::EngineKind;
using util::LogLevel;

struct Options : engine::EngineConfig {
    bool foreground = false;
    std::string pid_file = "/run/conenatd.pid";
    std::string stats_file;           // empty: none
    std::string metrics_file;         // Prometheus text; empty: none
    std::string control_socket = "/run/conenatd/conenatd.sock"; // conenatctl's (daemon/control.hpp)
    engine::MappingLogConfig mapping_log;
    LogLevel log_level = LogLevel::Info;
    bool print_rules = false;
    bool print_queue_statements = true; // false: --print-rules-without-queues
    bool default_ports = true;        // no --ports / --map-e: the system decides (resolve_system)
    core::PortSet configured_ports;   // the pool before the ruleset's own DNAT ports left it (user_dnat.hpp)
    // Every option as its key and value text (defaults included; a repeated one joined by ", "):
    // what a reload compares to name the keys it changes.
    std::map<std::string, std::string> values;
};

// What parse_options() decided: run with these options, or exit now with this status (help and
// version: already printed; a bad option or config line: `error` names it — the option as
// typed, or the config file, its line and key).
struct ParseResult {
    std::optional<Options> options;
    int exit_code = 0;
    std::string error;
};

ParseResult parse_options(int argc, char** argv);

// The keys a reload cannot change (the engine's threads, queues, table and devices are made
// at start): their new values are named and the old ones kept.
bool needs_restart(const std::string& key);

} // namespace conenat::daemon
