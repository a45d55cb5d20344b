// The commands conenatctl runs with code of its own (each in its own file); every other
// command is sent to the daemon as it is (run_remote).
#include "client.hpp"

namespace conenat::ctl {

const std::vector<LocalCommand>& local_commands() {
    static const std::vector<LocalCommand> commands = {};
    return commands;
}

} // namespace conenat::ctl
