// At most one line per interval from one place that may fail over and over (a kernel refusing
// every batch, a socket error per packet): the rest are counted and the next line that gets
// through says how many were suppressed. Thread-safe (atomics); no allocation.
#pragma once

#include "conenat/util/log.hpp"

#include <atomic>
#include <cstdint>

namespace conenat::util {

class RateLimit {
public:
    explicit RateLimit(std::int64_t interval_ms) : m_interval_ms(interval_ms) {}

    // Whether a line may go out at `now_ms` (monotonic); if so, `suppressed` gets the number
    // refused since the last one that went out. The first call always passes.
    bool allow(std::int64_t now_ms, std::uint64_t& suppressed);
    // The same on the steady clock.
    bool allow(std::uint64_t& suppressed);

private:
    static constexpr std::int64_t kNever = INT64_MIN;
    const std::int64_t m_interval_ms;
    std::atomic<std::int64_t> m_last{kNever};
    std::atomic<std::uint64_t> m_suppressed{0};
};

// log() through `limit`: "<text> (N more suppressed)" when N lines were refused before it.
[[gnu::format(printf, 3, 4)]] void log_limited(LogLevel level, RateLimit& limit, const char* fmt, ...);

} // namespace conenat::util

// One RateLimit per call site (shared by every thread and instance that reaches it).
#define CONENAT_LOG_LIMITED(level, seconds, ...)                                               \
    do {                                                                                       \
        static ::conenat::util::RateLimit conenat_limit_{std::int64_t(seconds) * 1000};        \
        if (::conenat::util::log_enabled(level))                                               \
            ::conenat::util::log_limited(level, conenat_limit_, __VA_ARGS__);                  \
    } while (0)
#define LOG_ERROR_LIMITED(seconds, ...) CONENAT_LOG_LIMITED(::conenat::util::LogLevel::Error, seconds, __VA_ARGS__)
#define LOG_WARN_LIMITED(seconds, ...) CONENAT_LOG_LIMITED(::conenat::util::LogLevel::Warning, seconds, __VA_ARGS__)
#define LOG_NOTICE_LIMITED(seconds, ...) CONENAT_LOG_LIMITED(::conenat::util::LogLevel::Notice, seconds, __VA_ARGS__)
