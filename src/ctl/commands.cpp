// The commands conenatctl runs with code of its own (each in its own file); every other
// command is sent to the daemon as it is (run_remote).
#include "client.hpp"

namespace conenat::ctl {

int run_check(const std::string& socket, const Request& request); // check.cpp

const std::vector<LocalCommand>& local_commands() {
    static const std::vector<LocalCommand> commands = {{"check", run_check}};
    return commands;
}

} // namespace conenat::ctl
