// Levelled logs that journald understands: "<N>" priority prefixes on stderr in the
// foreground (and under systemd), syslog when daemonized. Every layer above the core logs
// through it; the daemon sets it up.
#pragma once

#include <cstdarg>
#include <cstdint>

namespace conenat::util {

// syslog priorities.
enum class LogLevel : std::uint8_t { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

void log_init(LogLevel max, bool to_syslog);
bool log_enabled(LogLevel level);
[[gnu::format(printf, 2, 3)]] void log(LogLevel level, const char* fmt, ...);

#define LOG_ERROR(...) ::conenat::util::log(::conenat::util::LogLevel::Error, __VA_ARGS__)
#define LOG_WARN(...) ::conenat::util::log(::conenat::util::LogLevel::Warning, __VA_ARGS__)
#define LOG_NOTICE(...) ::conenat::util::log(::conenat::util::LogLevel::Notice, __VA_ARGS__)
#define LOG_INFO(...) ::conenat::util::log(::conenat::util::LogLevel::Info, __VA_ARGS__)
#define LOG_DEBUG(...)                                                                       \
    do {                                                                                     \
        if (::conenat::util::log_enabled(::conenat::util::LogLevel::Debug))              \
            ::conenat::util::log(::conenat::util::LogLevel::Debug, __VA_ARGS__);         \
    } while (0)

} // namespace conenat::util
