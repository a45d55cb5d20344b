#include "engine/common/mapping_log.hpp"

#include "conenat/io/log_sink.hpp"

#include <chrono>

namespace conenat::engine {

namespace {

constexpr const char* kIdent = "conenatd-mappings";

std::uint64_t wall_ms() {
    return std::uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count());
}

std::uint64_t lived_s(std::uint32_t since_s, core::TimeMs now) {
    const std::uint64_t now_s = now / 1000;
    return now_s > since_s ? now_s - since_s : 0;
}

} // namespace

Status configure_mapping_log(const MappingLogConfig& c) { return MappingLog::instance().configure(c); }

MappingLog& MappingLog::instance() {
    static MappingLog log;
    return log;
}

MappingLog::~MappingLog() { m_sink.store(nullptr); }

Status MappingLog::configure(const MappingLogConfig& c) {
    std::lock_guard lock(m_configure);
    std::unique_ptr<io::LogSink> next;
    if (c.mode != MappingLogMode::Off) {
        auto sink = c.file.empty() ? io::LogSink::open_syslog(c.syslog_socket, kIdent) : io::LogSink::open_file(c.file);
        if (!sink) return Error{"mapping log: " + sink.error()};
        next = std::make_unique<io::LogSink>(std::move(sink.value()));
    }
    m_mode.store(MappingLogMode::Off, std::memory_order_relaxed);
    m_sink.store(next.get(), std::memory_order_release);
    m_mode.store(c.mode, std::memory_order_relaxed);
    // Keep the new one and the one just replaced; older ones are closed now.
    if (m_owned.size() > 1) m_owned.erase(m_owned.begin(), m_owned.end() - 1);
    if (next) m_owned.push_back(std::move(next));
    return {};
}

void MappingLog::write(std::span<const char> text, std::size_t lines) {
    const io::LogSink* sink = m_sink.load(std::memory_order_acquire);
    const std::size_t sent = sink ? sink->write_lines(text) : 0;
    m_written.fetch_add(sent, std::memory_order_relaxed);
    if (sent < lines) lost(lines - sent);
}

std::string MappingLog::stats() const {
    return "mapping_log_lines " + std::to_string(m_written.load(std::memory_order_relaxed)) + "\nmapping_log_lost " +
           std::to_string(m_lost.load(std::memory_order_relaxed)) + "\n";
}

void MappingLogBuffer::add(const MappingRecord& r) {
    const std::size_t n = format_mapping_line(r, std::span(m_text).subspan(m_used));
    if (n == 0) {
        ++m_lost; // full until the next flush: the datapath never waits for the log
        return;
    }
    m_used += n;
    ++m_lines;
}

void MappingLogBuffer::mapping_created(const core::Mapping& m, core::TimeMs) {
    if (m_log.mode() != MappingLogMode::Mappings) return;
    add({MappingEvent::Created, m.proto, m.internal(), m.external(), 0, wall_ms(), 0});
}

void MappingLogBuffer::mapping_removed(const core::Mapping& m, core::TimeMs created, core::TimeMs now) {
    if (m_log.mode() != MappingLogMode::Mappings) return;
    add({MappingEvent::Removed, m.proto, m.internal(), m.external(), 0, wall_ms(), lived_s(std::uint32_t(created / 1000), now)});
}

void MappingLogBuffer::block_allocated(const core::BlockUse& b, core::TimeMs) {
    if (m_log.mode() != MappingLogMode::Blocks) return;
    add({MappingEvent::BlockAllocated, core::Proto{}, {b.host, 0}, {b.external, b.first_port}, b.last_port, wall_ms(), 0});
}

void MappingLogBuffer::block_released(const core::BlockUse& b, core::TimeMs now) {
    if (m_log.mode() != MappingLogMode::Blocks) return;
    add({MappingEvent::BlockReleased, core::Proto{}, {b.host, 0}, {b.external, b.first_port}, b.last_port, wall_ms(),
         lived_s(b.since_s, now)});
}

void MappingLogBuffer::flush() {
    if (m_lost) {
        m_log.lost(m_lost);
        m_lost = 0;
    }
    if (m_used == 0) return;
    m_log.write(std::span<const char>(m_text.data(), m_used), m_lines);
    m_used = 0;
    m_lines = 0;
}

} // namespace conenat::engine
