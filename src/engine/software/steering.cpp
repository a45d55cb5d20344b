#include "steering.hpp"

#include "conenat/core/packet/icmp_build.hpp"
#include "conenat/core/packet/ipv4_header.hpp"

namespace conenat::engine {

bool router_icmp(core::Counter reason, const core::PacketView& v) {
    if (reason == core::Counter::drop_icmp_no_mapping)
        return true;
    return reason == core::Counter::drop_no_mapping && v.kind == core::PacketKind::IcmpQuery &&
           v.icmp_type == core::icmp::EchoReply;
}

unsigned fragment_owner(std::span<const std::uint8_t> pkt, unsigned workers) {
    if (workers <= 1)
        return 0;
    return unsigned((core::datagram_hash(pkt) >> 32) % workers);
}

} // namespace conenat::engine
