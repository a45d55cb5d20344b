#include "conenat/core/packet/partial_checksum.hpp"

#include "conenat/core/packet/checksum.hpp"
#include "conenat/core/packet/ipv4_header.hpp"

namespace conenat::core {

bool fix_partial_checksum(std::span<std::uint8_t> pkt, bool gso) {
    if (pkt.size() < 20 || (pkt[0] >> 4) != 4)
        return false;
    const std::size_t ihl = std::size_t(pkt[0] & 0x0f) * 4;
    const std::size_t total = load16(pkt.data() + 2);
    const std::uint8_t proto = pkt[9];
    const bool fragment = is_fragment(pkt);
    const std::size_t check_at = proto == 6 ? 16 : proto == 17 ? 6 : 0;
    if (check_at == 0 || fragment || ihl < 20 || total > pkt.size() || total < ihl + check_at + 2)
        return false;
    std::uint8_t* l4 = pkt.data() + ihl;
    const std::size_t l4_len = total - ihl;
    // RFC 793 / 768 pseudo-header: source, destination, zero + protocol, TCP/UDP length.
    std::uint32_t sum = csum_partial(pkt.subspan(12, 8));
    sum += proto;
    sum += std::uint32_t(l4_len);
    if (gso) {
        store16(l4 + check_at, csum_fold(sum));
        return true;
    }
    store16(l4 + check_at, 0);
    std::uint16_t check = csum_finish(csum_partial({l4, l4_len}, sum));
    if (proto == 17 && check == 0)
        check = 0xffff; // RFC 768: a computed 0 is sent as all ones
    store16(l4 + check_at, check);
    return true;
}

} // namespace conenat::core
