// How full the kernel's conntrack table of this network namespace is, and how many new flows it
// dropped for lack of room (nf_conntrack_max reached: "table full, dropping packet").
#pragma once

#include "conenat/util/result.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace conenat::io {

struct ConntrackTableState {
    std::uint64_t count = 0, max = 0; // entries now, and the limit (0: none)
    std::uint64_t drops = 0;          // new flows dropped since boot: no room, none to evict
    std::uint64_t evictions = 0;      // unreplied entries evicted since boot to make room (early_drop)
    bool full() const { return max != 0 && count >= max; }
};

// Reads nf_conntrack_count, nf_conntrack_max and /proc/net/stat/nf_conntrack.
Result<ConntrackTableState> read_conntrack_table();
// The sum over CPUs of column `column` ("drop", "early_drop") of /proc/net/stat/nf_conntrack (a
// header line of column names, then one line of hex numbers per CPU); nullopt when it has none.
std::optional<std::uint64_t> parse_conntrack_stat(std::string_view stat, std::string_view column);

} // namespace conenat::io
