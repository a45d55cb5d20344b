// Kernel settings under /proc/sys (net/ipv4/conf/<ifname>/<key> and friends), read and
// written whole.
#pragma once

#include "conenat/util/result.hpp"

#include <string>

namespace conenat::io {

Result<std::string> read_sysctl(const std::string& path);
Status write_sysctl(const std::string& path, const std::string& value);

} // namespace conenat::io
