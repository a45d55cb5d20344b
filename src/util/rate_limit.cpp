#include "conenat/util/rate_limit.hpp"

#include <chrono>
#include <cstdarg>
#include <cstdio>

namespace conenat::util {

bool RateLimit::allow(std::int64_t now_ms, std::uint64_t& suppressed) {
    std::int64_t last = m_last.load(std::memory_order_relaxed);
    // One winner per interval: the thread whose exchange succeeds logs, the others count.
    while (last == kNever || now_ms - last >= m_interval_ms) {
        if (m_last.compare_exchange_weak(last, now_ms, std::memory_order_relaxed)) {
            suppressed = m_suppressed.exchange(0, std::memory_order_relaxed);
            return true;
        }
    }
    m_suppressed.fetch_add(1, std::memory_order_relaxed);
    return false;
}

bool RateLimit::allow(std::uint64_t& suppressed) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now().time_since_epoch());
    return allow(std::int64_t(now.count()), suppressed);
}

void log_limited(LogLevel level, RateLimit& limit, const char* fmt, ...) {
    std::uint64_t suppressed = 0;
    if (!limit.allow(suppressed))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (suppressed == 0)
        log(level, "%s", line);
    else
        log(level, "%s (%llu more suppressed)", line, static_cast<unsigned long long>(suppressed));
}

} // namespace conenat::util
