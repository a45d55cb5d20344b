// libFuzzer target: hostile nfqueue datagrams through the parser NfQueue::receive uses. Requires:
// no crash, no access outside the (padded) datagram (ASan: it sits in a buffer of exactly that
// size), and an accepted packet lies inside it, where the queue engine rewrites it in place.
#include "src/io/nfqueue_parse.hpp"

#include <cstdlib>
#include <cstring>
#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Netlink messages are 4-byte aligned in the kernel's buffers: new[] keeps that property.
    // As NfQueue::receive does, the datagram is zero-padded to 4 bytes (the kernel leaves a
    // packet message unpadded).
    const std::size_t padded = (size + 3) & ~std::size_t(3);
    const std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[padded ? padded : 1]());
    std::memcpy(buf.get(), data, size);
    size = padded;
    conenat::io::QueuedPacket p;
    if (!conenat::io::detail::parse_queued_packet(buf.get(), size, p)) return 0;
    if (!p.bytes.empty() && (p.bytes.data() < buf.get() || p.bytes.data() + p.bytes.size() > buf.get() + size))
        std::abort();
    for (std::uint8_t& b : p.bytes) b = std::uint8_t(~b); // as a rewrite would
    return 0;
}
