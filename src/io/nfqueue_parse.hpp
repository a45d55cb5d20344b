// Internal: the first NFQNL_MSG_PACKET of a received datagram -> QueuedPacket (the fuzz target
// fuzz_nfqueue calls it as NfQueue::receive does).
#pragma once

#include "conenat/io/nfqueue.hpp"

#include <cstddef>
#include <cstdint>

namespace conenat::io::detail {

// Walks the `len` bytes of `buf` (one recv()); false when no packet message is in it. `out.bytes`
// points into `buf`, which the caller may rewrite in place.
bool parse_queued_packet(std::uint8_t* buf, std::size_t len, QueuedPacket& out);

} // namespace conenat::io::detail
