#include "conenat/core/packet/ipv4_header.hpp"

#include "conenat/core/packet/checksum.hpp"

namespace conenat::core {

namespace {
constexpr std::size_t kHeader = 20, kTtl = 8, kChecksum = 10;
constexpr std::uint16_t kFragmentBits = 0x3fff; // MF and the offset

bool has_header(std::span<const std::uint8_t> pkt) { return pkt.size() >= kHeader && (pkt[0] >> 4) == 4; }

// Sets the TTL, the header checksum updated for it (the TTL shares a 16-bit word with the protocol).
void set_ttl(std::span<std::uint8_t> pkt, std::uint8_t ttl) {
    const std::uint16_t before = load16(&pkt[kTtl]);
    pkt[kTtl] = ttl;
    store16(&pkt[kChecksum], csum_replace16(load16(&pkt[kChecksum]), before, load16(&pkt[kTtl])));
}
} // namespace

bool is_fragment(std::span<const std::uint8_t> pkt) {
    return has_header(pkt) && (load16(&pkt[6]) & kFragmentBits) != 0;
}

std::uint64_t datagram_hash(std::span<const std::uint8_t> pkt) {
    if (pkt.size() < kHeader)
        return 0;
    // id (4..5), protocol (9), source and destination (12..19): a multiplicative hash.
    constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ull;
    std::uint64_t h = load16(&pkt[4]) | std::uint64_t(pkt[9]) << 16;
    h = h * kGolden ^ (std::uint64_t(load16(&pkt[12])) << 16 | load16(&pkt[14]));
    h = h * kGolden ^ (std::uint64_t(load16(&pkt[16])) << 16 | load16(&pkt[18]));
    return h * kGolden;
}

bool take_hop(std::span<std::uint8_t> pkt) {
    if (pkt.size() < kHeader || pkt[kTtl] <= 1)
        return false;
    set_ttl(pkt, std::uint8_t(pkt[kTtl] - 1));
    return true;
}

void give_back_hop(std::span<std::uint8_t> pkt) {
    if (pkt.size() < kHeader || pkt[kTtl] == 255)
        return;
    set_ttl(pkt, std::uint8_t(pkt[kTtl] + 1));
}

} // namespace conenat::core
