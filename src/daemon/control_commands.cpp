// The control socket's command table: a command is one entry here (its words are checked by
// ctl::command_specs() first) and a handler of its own.
#include "control_handlers.hpp"

namespace conenat::daemon {

const std::vector<ControlCommand>& control_commands() {
    static const std::vector<ControlCommand> commands = {
        {"status", handle_status},     {"mappings", handle_mappings}, {"sessions", handle_sessions},
        {"stats", handle_stats},       {"forwards", handle_forwards}, {"reload", handle_reload},
        {"check", handle_check},
    };
    return commands;
}

} // namespace conenat::daemon
