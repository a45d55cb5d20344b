#include "engine/common/mapping_log_line.hpp"

#include <cstdio>
#include <ctime>

namespace conenat::engine {

namespace {

const char* proto_name(core::Proto p) {
    switch (p) {
    case core::Proto::Udp: return "udp";
    case core::Proto::Tcp: return "tcp";
    case core::Proto::Icmp: return "icmp";
    }
    return "?";
}

const char* event_name(MappingEvent e) {
    switch (e) {
    case MappingEvent::Created: return "mapping-created";
    case MappingEvent::Removed: return "mapping-removed";
    case MappingEvent::BlockAllocated: return "block-allocated";
    case MappingEvent::BlockReleased: return "block-released";
    }
    return "?";
}

unsigned octet(core::Ipv4 a, int i) { return (a >> (24 - 8 * i)) & 0xff; }

} // namespace

std::size_t format_mapping_line(const MappingRecord& r, std::span<char> out) {
    const std::time_t secs = std::time_t(r.wall_ms / 1000);
    std::tm tm{};
    if (!gmtime_r(&secs, &tm)) return 0;
    const core::Ipv4 in = r.internal.addr, ex = r.external.addr;
    int n;
    char ip_in[16], ip_ex[16];
    std::snprintf(ip_in, sizeof ip_in, "%u.%u.%u.%u", octet(in, 0), octet(in, 1), octet(in, 2), octet(in, 3));
    std::snprintf(ip_ex, sizeof ip_ex, "%u.%u.%u.%u", octet(ex, 0), octet(ex, 1), octet(ex, 2), octet(ex, 3));
    const bool block = r.event == MappingEvent::BlockAllocated || r.event == MappingEvent::BlockReleased;
    const bool ended = r.event == MappingEvent::Removed || r.event == MappingEvent::BlockReleased;
    char tail[32] = "";
    if (ended) std::snprintf(tail, sizeof tail, " duration=%llu", (unsigned long long)r.duration_s);
    if (block)
        n = std::snprintf(out.data(), out.size(),
                          "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ event=%s internal=%s external=%s ports=%u-%u%s\n",
                          tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                          unsigned(r.wall_ms % 1000), event_name(r.event), ip_in, ip_ex, unsigned(r.external.port),
                          unsigned(r.last_port), tail);
    else
        n = std::snprintf(out.data(), out.size(),
                          "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ event=%s proto=%s internal=%s:%u external=%s:%u%s\n",
                          tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                          unsigned(r.wall_ms % 1000), event_name(r.event), proto_name(r.proto), ip_in,
                          unsigned(r.internal.port), ip_ex, unsigned(r.external.port), tail);
    if (n <= 0 || std::size_t(n) >= out.size()) return 0;
    return std::size_t(n);
}

} // namespace conenat::engine
