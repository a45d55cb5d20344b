// One line of the operators' mapping log (RFC 6888 REQ-12, RFC 7422): UTC time with ms, the
// event, the protocol, the internal and the external endpoint (a block: the external address
// and port range), and on removal how long it lived. Formatted into a caller's buffer: no
// allocation, for the workers' per-packet path.
#pragma once

#include "conenat/core/types.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace conenat::engine {

enum class MappingEvent : std::uint8_t { Created, Removed, BlockAllocated, BlockReleased };

struct MappingRecord {
    MappingEvent event = MappingEvent::Created;
    core::Proto proto{};         // mappings only
    core::Endpoint internal;     // a block: the host (port 0)
    core::Endpoint external;     // a block: its first port
    std::uint16_t last_port = 0; // a block: its last port
    std::uint64_t wall_ms = 0;   // when, in ms since the Unix epoch (UTC)
    std::uint64_t duration_s = 0; // removed / released: how long it lived
};

// The longest line format_mapping_line writes, '\n' included.
constexpr std::size_t kMappingLineMax = 160;

// Writes `r` as one line ending in '\n' into `out`; returns its length, or 0 when `out` is too
// short. E.g. "2026-12-02T21:55:00.123Z event=mapping-removed proto=udp internal=10.0.0.2:5400
// external=198.51.100.254:5400 duration=120" (one line; duration in seconds).
std::size_t format_mapping_line(const MappingRecord& r, std::span<char> out);

} // namespace conenat::engine
