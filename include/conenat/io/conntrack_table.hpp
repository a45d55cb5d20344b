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
    bool full() const { return max != 0 && count >= max; }
};

// Reads nf_conntrack_count, nf_conntrack_max and /proc/net/stat/nf_conntrack.
Result<ConntrackTableState> read_conntrack_table();
// The sum over CPUs of the "drop" column of /proc/net/stat/nf_conntrack (a header line of
// column names, then one line of hex numbers per CPU); nullopt when it has no such column.
std::optional<std::uint64_t> parse_conntrack_drops(std::string_view stat);

} // namespace conenat::io
