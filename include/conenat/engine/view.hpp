// What an engine shows of its mapping tables (conenatctl status / mappings / sessions): a copy
// taken by the thread that owns each table, never holding its datapath longer than that copy.
#pragma once

#include "conenat/core/nat/config.hpp"
#include "conenat/core/nat/table_view.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace conenat::engine {

// The rows a listing may hold at most: a bound on the copy, whatever the table's size.
constexpr std::size_t kViewLimit = 1u << 20;

struct ViewRequest {
    bool mappings = false, sessions = false; // which rows; the counts come always
    core::ViewFilter filter;
    std::size_t limit = kViewLimit;          // rows of each kind, all tables together
};

struct TableView {
    core::NatConfig config;        // running: its external addresses as the WAN has them now
    std::uint64_t mapping_count = 0, session_count = 0; // live or not yet swept, all tables
    unsigned tables = 0;           // mapping tables (software engines: one per worker)
    std::vector<core::MappingRow> mappings;
    std::vector<core::SessionRow> sessions;
    bool truncated = false;        // more rows matched than `limit`
    std::string role;              // an HA pair's member: "active" or "standby"; else ""
    std::uint64_t takeover_left_ms = 0; // an HA pair's member: its takeover's grace still running
};

} // namespace conenat::engine
