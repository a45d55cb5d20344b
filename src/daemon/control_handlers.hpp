// The control socket's command handlers, one file each (or a few small ones together); their
// table is control_commands.cpp.
#pragma once

#include "conenat/daemon/control.hpp"

namespace conenat::daemon {

ControlReply handle_status(const ctl::Request& request, ControlContext& context);   // control_status.cpp
ControlReply handle_mappings(const ctl::Request& request, ControlContext& context); // control_listings.cpp
ControlReply handle_sessions(const ctl::Request& request, ControlContext& context); // control_listings.cpp
ControlReply handle_forwards(const ctl::Request& request, ControlContext& context); // control_listings.cpp
ControlReply handle_stats(const ctl::Request& request, ControlContext& context);    // control_stats.cpp
ControlReply handle_reload(const ctl::Request& request, ControlContext& context);   // control_reload.cpp
ControlReply handle_check(const ctl::Request& request, ControlContext& context);    // control_check.cpp

} // namespace conenat::daemon
