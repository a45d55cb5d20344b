// The daemon's settings, from the command line and the config file (whose keys are the long
// option names). Boost.Program_options stays inside options.cpp.
#pragma once

#include "conenat/core/nat/config.hpp"
#include "conenat/util/log.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace conenat::daemon {

enum class EngineKind : std::uint8_t { Conntrack, Queue, Tun };
using util::LogLevel;

struct Options {
    EngineKind engine = EngineKind::Conntrack;
    core::NatConfig nat;              // types, timers, pool, limits
    std::string external_if;
    core::Ipv4 internal_net = 0;
    std::uint8_t internal_prefix = 0;
    bool foreground = false;
    std::string pid_file = "/run/conenatd.pid";
    std::string stats_file;           // empty: none
    LogLevel log_level = LogLevel::Info;
    bool rules_auto = true;
    bool print_rules = false;
    std::string table = "conenatd";
    std::uint16_t queue_out = 0, queue_in = 1;
    std::uint32_t queue_maxlen = 4096;
    std::uint32_t permit_mark = 0x00100000;
    std::size_t event_buffer = 8u << 20; // kernel-facts: 8 MiB lost no event in bursts
    std::uint32_t resync_interval_s = 120;
    unsigned queues = 1;              // queue engine workers
    bool fail_open = false;           // queue engine: a full (or unbound) queue passes packets untranslated
    std::string tun_name = "conenat0";
};

// What parse() decided: run with these options, or exit now with this status (help, version,
// a bad option: the message is already printed).
struct ParseResult {
    std::optional<Options> options;
    int exit_code = 0;
};

ParseResult parse_options(int argc, char** argv);

} // namespace conenat::daemon
