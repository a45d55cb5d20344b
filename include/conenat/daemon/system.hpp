// Checks of the options against this machine: the WAN interface exists, its addresses (the
// default external addresses), and the router's own local port range.
#pragma once

#include "conenat/daemon/options.hpp"
#include "conenat/util/result.hpp"

namespace conenat::daemon {

// Errors name the option (exit status 2); warnings are logged.
Status resolve_system(Options& o);

} // namespace conenat::daemon
