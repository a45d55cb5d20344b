// The daemon's settings, from the command line and the config file (whose keys are the long
// option names). Boost.Program_options stays inside options.cpp.
#pragma once

#include "conenat/engine/config.hpp"
#include "conenat/util/log.hpp"

#include <cstdint>
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
    LogLevel log_level = LogLevel::Info;
    bool print_rules = false;
    bool print_queue_statements = true; // false: --print-rules-without-queues
};

// What parse() decided: run with these options, or exit now with this status (help, version,
// a bad option: the message is already printed).
struct ParseResult {
    std::optional<Options> options;
    int exit_code = 0;
};

ParseResult parse_options(int argc, char** argv);

} // namespace conenat::daemon
