// The NFQUEUE queues bound in this network namespace, as the kernel lists them in
// /proc/net/netfilter/nfnetlink_queue: who listens, and how many packets each queue has taken
// and dropped.
#pragma once

#include "conenat/util/result.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace conenat::io {

struct QueueBinding {
    std::uint16_t queue = 0;
    std::uint32_t portid = 0;        // the listener's netlink port id
    std::uint32_t waiting = 0;       // packets queued, no verdict yet
    std::uint64_t queue_dropped = 0; // dropped: the queue was full
    std::uint64_t user_dropped = 0;  // dropped: the listener's socket buffer was full
    std::uint32_t id_sequence = 0;   // the id of the last packet queued (a packet count)
};

// Parses the file's text: one line per bound queue; malformed lines are skipped.
std::vector<QueueBinding> parse_queue_bindings(std::string_view text);
// Reads and parses it; absent (no queue was ever bound here): none.
Result<std::vector<QueueBinding>> read_queue_bindings();

} // namespace conenat::io
