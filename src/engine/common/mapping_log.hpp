// The operators' mapping log (RFC 6888 REQ-12, RFC 7422): a line per mapping created and
// removed, or per port block taken into use and given up. MappingLog is the process's one
// destination (a file or syslog), set at start and on every SIGHUP (reopened: logrotate);
// each table's MappingLogBuffer formats its lines into a bounded buffer of its own and writes
// them once per batch or tick: no syscall per line, never a wait (a full buffer counts its
// lost lines).
#pragma once

#include "conenat/core/nat/mapping_table.hpp"
#include "conenat/engine/mapping_log.hpp"
#include "conenat/util/result.hpp"
#include "engine/common/mapping_log_line.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace conenat::io {
class LogSink;
}

namespace conenat::engine {

class MappingLog {
public:
    // The process's mapping log.
    static MappingLog& instance();

    // Opens the destination `c` names (again: a reload reopens the same file) and logs in its
    // mode from now on. An error leaves the previous destination and mode in place.
    Status configure(const MappingLogConfig& c);
    MappingLogMode mode() const { return m_mode.load(std::memory_order_relaxed); }
    // Writes whole lines (`lines` of them) to the destination; what does not go out is lost.
    void write(std::span<const char> text, std::size_t lines);
    void lost(std::uint64_t n) { m_lost.fetch_add(n, std::memory_order_relaxed); }
    // "mapping_log_lines N" and "mapping_log_lost N" for the engines' statistics.
    std::string stats() const;
    ~MappingLog();

private:
    MappingLog() = default;
    std::atomic<MappingLogMode> m_mode{MappingLogMode::Off};
    std::atomic<io::LogSink*> m_sink{nullptr};
    // The destinations replaced lately: a worker may still be writing to the last one, so it
    // is closed one reconfiguration later (reloads are seconds apart; a write takes µs).
    std::vector<std::unique_ptr<io::LogSink>> m_owned;
    std::mutex m_configure; // configure() against configure() only: workers never take it
    std::atomic<std::uint64_t> m_written{0}, m_lost{0};
};

// One table's lines on their way to the MappingLog: the table's observer (set_observer).
class MappingLogBuffer final : public core::MappingObserver {
public:
    explicit MappingLogBuffer(MappingLog& log = MappingLog::instance()) : m_log(log) {}
    void mapping_created(const core::Mapping& m, core::TimeMs now) override;
    void mapping_removed(const core::Mapping& m, core::TimeMs created, core::TimeMs now) override;
    void block_allocated(const core::BlockUse& b, core::TimeMs now) override;
    void block_released(const core::BlockUse& b, core::TimeMs now) override;
    // Past half full: worth a write before the next tick.
    bool due() const { return m_used > kCapacity / 2; }
    // Writes what is buffered (one write / sendmmsg) and reports the lines lost meanwhile.
    void flush();

    static constexpr std::size_t kCapacity = 64 * 1024;

private:
    void add(const MappingRecord& r);
    MappingLog& m_log;
    std::array<char, kCapacity> m_text{};
    std::size_t m_used = 0, m_lines = 0;
    std::uint64_t m_lost = 0;
};

} // namespace conenat::engine
