// `reload`: the reload SIGHUP starts (daemon/reload.cpp), run by the main thread; the answer
// says whether it was applied, changed nothing, or was refused and why.
#include "control_handlers.hpp"
#include "control_render.hpp"

#include <algorithm>

namespace conenat::daemon {

namespace {
constexpr std::chrono::seconds kReloadWait{30}; // it may reinstall the table with every mapping
}

ControlReply handle_reload(const ctl::Request& request, ControlContext& context) {
    const auto outcome = context.reloads.ask(kReloadWait);
    if (!outcome) return control_error("reload: no outcome within " + std::to_string(kReloadWait.count()) + " s");
    // A refused reload is the daemon saying no: an error (exit status 1), with the reason.
    if (!*outcome) return control_error(outcome->error());
    const std::string& message = outcome->value();
    const bool applied = message.rfind("reloaded", 0) == 0;
    if (request.json) {
        JsonWriter j;
        j.begin_object().key("result").value(applied ? "applied" : "unchanged").key("message").value(message);
        return {{}, j.end_object().take()};
    }
    return {{}, (applied ? "reload applied: " + message.substr(std::min<std::size_t>(message.size(), 10)) : "reload: " + message) + "\n"};
}

} // namespace conenat::daemon
