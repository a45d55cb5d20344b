// conenatctl's side of the control socket: one request line sent, the answer read whole.
#pragma once

#include "conenat/util/ctl_request.hpp"

#include <string>

namespace conenat::ctl {

// conenatctl's exit statuses (man conenatctl).
enum Exit : int { kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitNotRunning = 3, kExitDenied = 4 };

// What the daemon answered: `ok` and the body, or its error; or why nothing was answered.
struct Answer {
    int exit = kExitOk;
    std::string body;  // after `ok`
    std::string error; // the message for stderr (exit != 0)
};
Answer ask_daemon(const std::string& socket, const Request& request);

// Runs `request` against the daemon: prints the body (stdout) or the error (stderr); the exit status.
int run_remote(const std::string& socket, const Request& request);

// A command conenatctl runs with its own code (e.g. `check`, which also asks a STUN server);
// the others are only sent to the daemon. Table in commands.cpp.
struct LocalCommand {
    const char* name;
    int (*run)(const std::string& socket, const Request& request);
};
const std::vector<LocalCommand>& local_commands();

} // namespace conenat::ctl
