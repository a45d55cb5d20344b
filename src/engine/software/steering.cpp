#include "steering.hpp"

#include "conenat/core/packet/checksum.hpp"

namespace conenat::engine {

bool router_icmp(core::Counter reason, std::span<const std::uint8_t> pkt) {
    if (reason == core::Counter::drop_icmp_no_mapping)
        return true;
    if (pkt.size() < 20)
        return false;
    const std::size_t ihl = std::size_t(pkt[0] & 0x0f) * 4;
    return reason == core::Counter::drop_no_mapping && pkt.size() > ihl && pkt[9] == 1 && pkt[ihl] == 0;
}

unsigned fragment_owner(std::span<const std::uint8_t> pkt, unsigned workers) {
    if (workers <= 1 || pkt.size() < 20)
        return 0;
    // id (4..5), protocol (9), source and destination (12..19): a multiplicative hash.
    std::uint64_t h = core::load16(&pkt[4]) | std::uint64_t(pkt[9]) << 16;
    h = h * 0x9e3779b97f4a7c15ull ^ (std::uint64_t(core::load16(&pkt[12])) << 16 | core::load16(&pkt[14]));
    h = h * 0x9e3779b97f4a7c15ull ^ (std::uint64_t(core::load16(&pkt[16])) << 16 | core::load16(&pkt[18]));
    h *= 0x9e3779b97f4a7c15ull;
    return unsigned((h >> 32) % workers);
}

} // namespace conenat::engine
