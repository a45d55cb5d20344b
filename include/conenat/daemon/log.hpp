// Levelled logs that journald understands: "<N>" priority prefixes on stderr in the
// foreground (and under systemd), syslog when daemonized.
#pragma once

#include "conenat/daemon/options.hpp"

#include <cstdarg>

namespace conenat::daemon {

void log_init(LogLevel max, bool to_syslog);
bool log_enabled(LogLevel level);
[[gnu::format(printf, 2, 3)]] void log(LogLevel level, const char* fmt, ...);

#define LOG_ERROR(...) ::conenat::daemon::log(::conenat::daemon::LogLevel::Error, __VA_ARGS__)
#define LOG_WARN(...) ::conenat::daemon::log(::conenat::daemon::LogLevel::Warning, __VA_ARGS__)
#define LOG_NOTICE(...) ::conenat::daemon::log(::conenat::daemon::LogLevel::Notice, __VA_ARGS__)
#define LOG_INFO(...) ::conenat::daemon::log(::conenat::daemon::LogLevel::Info, __VA_ARGS__)
#define LOG_DEBUG(...)                                                                       \
    do {                                                                                     \
        if (::conenat::daemon::log_enabled(::conenat::daemon::LogLevel::Debug))              \
            ::conenat::daemon::log(::conenat::daemon::LogLevel::Debug, __VA_ARGS__);         \
    } while (0)

} // namespace conenat::daemon
