// A conenatctl request: the command and its options, as one line of words on the control
// socket (`mappings --proto udp --json`). One parser for both ends: conenatctl checks a request
// before it connects, the daemon checks it again (it trusts no client). Pure.
#pragma once

#include "conenat/core/nat/table_view.hpp"
#include "conenat/util/result.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace conenat::ctl {

constexpr std::size_t kMaxRequestBytes = 1024; // a request line, its newline included

// What a command accepts (bits of CommandSpec::options).
enum : unsigned { kOptJson = 1, kOptFilters = 2, kOptPrometheus = 4, kOptStunServer = 8 };

// The commands the daemon answers, with the options each takes. A new command is one entry here
// and one in the daemon's handler table (src/daemon/control_commands.cpp).
struct CommandSpec {
    const char* name;
    unsigned options;
    const char* summary; // for --help
};
const std::vector<CommandSpec>& command_specs();

struct Request {
    std::string command;
    bool json = false, prometheus = false;
    core::ViewFilter filter;
    std::string stun_server; // HOST[:PORT] as given
    std::string line() const; // the request line as sent (without the newline)
};

// `words` (argv after the program's own options, or a request line split at blanks): the
// request, or what is wrong with it, naming the word.
Result<Request> parse_request(const std::vector<std::string>& words);
std::vector<std::string> split_words(std::string_view line);

// "udp" / "tcp" / "icmp"; "A" or "A:P" (P 1-65535).
std::optional<core::Proto> parse_proto(std::string_view s);
std::optional<core::Endpoint> parse_endpoint_filter(std::string_view s);
std::string_view proto_name(core::Proto p);

} // namespace conenat::ctl
