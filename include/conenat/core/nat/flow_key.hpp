// How a parsed packet names its flow (protocol, and the remote part of its key): shared by the
// translator and the engines.
#pragma once

#include "conenat/core/packet/parse.hpp"

namespace conenat::core {

inline Proto flow_proto(const PacketView& v) {
    return v.kind == PacketKind::Udp ? Proto::Udp : v.kind == PacketKind::Tcp ? Proto::Tcp : Proto::Icmp;
}

// ICMP queries have no remote port: the identifier is ours alone (RFC 5508 §3.1).
inline Endpoint remote_of(Proto p, Endpoint e) { return {e.addr, p == Proto::Icmp ? std::uint16_t(0) : e.port}; }

} // namespace conenat::core
