#include "conenat/util/log.hpp"

#include <cstdio>
#include <mutex>
#include <syslog.h>

namespace conenat::util {

namespace {
LogLevel g_max = LogLevel::Info;
bool g_syslog = false;
std::mutex g_mutex; // one line at a time from the engine's threads
} // namespace

void log_init(LogLevel max, bool to_syslog) {
    g_max = max;
    g_syslog = to_syslog;
    if (to_syslog) openlog("conenatd", LOG_PID, LOG_DAEMON);
}

bool log_enabled(LogLevel level) { return level <= g_max; }

void log(LogLevel level, const char* fmt, ...) {
    if (!log_enabled(level)) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (g_syslog) {
        syslog(int(level), "%s", line);
        return;
    }
    std::lock_guard lock(g_mutex);
    std::fprintf(stderr, "<%d>%s\n", int(level), line);
}

} // namespace conenat::util
