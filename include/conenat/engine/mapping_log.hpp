// The operators' mapping log as the daemon sets it (RFC 6888 REQ-12, RFC 7422): off, a line per
// mapping, or a line per port block; to a file (appended) or to syslog (LOG_DAEMON, ident
// conenatd-mappings). The engines' tables write it (src/engine/common/mapping_log.hpp).
#pragma once

#include "conenat/util/result.hpp"

#include <cstdint>
#include <string>

namespace conenat::engine {

enum class MappingLogMode : std::uint8_t { Off, Mappings, Blocks };

struct MappingLogConfig {
    MappingLogMode mode = MappingLogMode::Off;
    std::string file;                       // empty: syslog
    std::string syslog_socket = "/dev/log"; // syslog's datagram socket
};

// Opens the destination `c` names (again on every reload: a rotated file is reopened) and logs
// in its mode from now on. An error names the destination and leaves the previous one in place.
Status configure_mapping_log(const MappingLogConfig& c);

} // namespace conenat::engine
