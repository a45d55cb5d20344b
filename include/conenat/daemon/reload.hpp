// SIGHUP (systemctl reload): the command line and config file read again and applied to the
// running engine without losing a live mapping; a bad config is refused and the old one runs on.
#pragma once

#include "conenat/daemon/options.hpp"
#include "conenat/engine/engine.hpp"

#include <string>

namespace conenat::daemon {

// Re-parses argv (and its --config file) and applies the result to `engine`. Keys that need a
// restart keep their values in `current`, named in one log line; on any error (a bad line, a
// check against the system, the engine refusing) `current` and the engine stay as they were.
// Returns what happened in one line (logged too): the keys applied or unchanged; the error: why
// it was refused.
Result<std::string> reload(Options& current, int argc, char** argv, engine::Engine& engine);

} // namespace conenat::daemon
