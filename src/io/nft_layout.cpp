#include "nft_layout.hpp"

#include <linux/netfilter/nf_tables.h>

#include <cstring>

namespace conenat::io {

using nft::Field;

std::vector<Field> snat_key(core::Proto proto, core::Behaviour mapping) {
    std::vector<Field> key{Field::SrcAddr, Field::SrcPort};
    if (mapping != core::Behaviour::EndpointIndependent)
        key.push_back(Field::DstAddr);
    if (mapping == core::Behaviour::AddressAndPortDependent && proto != core::Proto::Icmp)
        key.push_back(Field::DstPort);
    return key;
}

std::vector<Field> dnat_key() {
    return {Field::DstAddr, Field::DstPort};
}

std::string_view snat_map(core::Proto proto) {
    return proto == core::Proto::Udp ? "snat_udp" : proto == core::Proto::Tcp ? "snat_tcp" : "snat_icmp";
}

std::string_view dnat_map(core::Proto proto) {
    return proto == core::Proto::Udp ? "dnat_udp" : "dnat_tcp";
}

} // namespace conenat::io

namespace conenat::io::detail {

std::string_view proto_name(core::Proto proto) {
    return proto == core::Proto::Udp ? "udp" : proto == core::Proto::Tcp ? "tcp" : "icmp";
}

PayloadRef payload_of(Field f, core::Proto proto) {
    switch (f) {
    case Field::SrcAddr: return {NFT_PAYLOAD_NETWORK_HEADER, 12, 4};
    case Field::DstAddr: return {NFT_PAYLOAD_NETWORK_HEADER, 16, 4};
    // The echo identifier sits at offset 4 of the ICMP header.
    case Field::SrcPort: return {NFT_PAYLOAD_TRANSPORT_HEADER, proto == core::Proto::Icmp ? 4u : 0u, 2};
    case Field::DstPort: return {NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2};
    }
    return {};
}

std::string_view expr_name(Field f, core::Proto proto) {
    switch (f) {
    case Field::SrcAddr: return "ip saddr";
    case Field::DstAddr: return "ip daddr";
    case Field::SrcPort: return proto == core::Proto::Udp ? "udp sport" : proto == core::Proto::Tcp ? "tcp sport" : "icmp id";
    case Field::DstPort: return proto == core::Proto::Udp ? "udp dport" : "tcp dport";
    }
    return {};
}

std::uint32_t key_len(std::span<const Field> key) {
    return kSlot * static_cast<std::uint32_t>(key.size());
}

std::uint32_t key_type(std::span<const Field> key) {
    // nft numbers a concatenation by shifting in each field's type (TYPE_BITS each).
    std::uint32_t type = 0;
    for (Field f : key)
        type = (type << kTypeBits) | (f == Field::SrcAddr || f == Field::DstAddr ? kTypeIpv4 : kTypeInetService);
    return type;
}

std::uint32_t endpoint_type() {
    return (kTypeIpv4 << kTypeBits) | kTypeInetService;
}

namespace {
void put_slot(std::uint8_t* out, std::uint32_t value, std::uint32_t len) {
    std::memset(out, 0, kSlot);
    for (std::uint32_t i = 0; i < len; ++i)
        out[i] = static_cast<std::uint8_t>(value >> (8 * (len - 1 - i)));
}
} // namespace

void encode_key(std::span<const Field> key, core::Endpoint src, core::Endpoint dst, std::uint8_t* out) {
    for (Field f : key) {
        switch (f) {
        case Field::SrcAddr: put_slot(out, src.addr, 4); break;
        case Field::SrcPort: put_slot(out, src.port, 2); break;
        case Field::DstAddr: put_slot(out, dst.addr, 4); break;
        case Field::DstPort: put_slot(out, dst.port, 2); break;
        }
        out += kSlot;
    }
}

void encode_endpoint(core::Endpoint e, std::uint8_t* out) {
    put_slot(out, e.addr, 4);
    put_slot(out + kSlot, e.port, 2);
}

} // namespace conenat::io::detail
