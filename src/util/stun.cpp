// STUN Binding messages: RFC 5389 §6 (header), §15 (attributes), RFC 5780 §7 (behaviour
// discovery attributes). Every length is checked before it is read.
#include "conenat/util/stun.hpp"

namespace conenat::stun {

namespace {

constexpr std::uint16_t kBindingRequest = 0x0001, kBindingSuccess = 0x0101, kBindingError = 0x0111;
constexpr std::uint16_t kMappedAddress = 0x0001, kSourceAddress = 0x0004, kChangedAddress = 0x0005,
                        kChangeRequest = 0x0003, kErrorCode = 0x0009, kXorMappedAddress = 0x0020,
                        kResponseOrigin = 0x802b, kOtherAddress = 0x802c;
constexpr std::uint8_t kFamilyIpv4 = 0x01;

void put16(std::vector<std::uint8_t>& b, std::uint16_t v) {
    b.push_back(std::uint8_t(v >> 8));
    b.push_back(std::uint8_t(v));
}
void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
    put16(b, std::uint16_t(v >> 16));
    put16(b, std::uint16_t(v));
}
std::uint16_t get16(const std::uint8_t* p) { return std::uint16_t((p[0] << 8) | p[1]); }
std::uint32_t get32(const std::uint8_t* p) { return (std::uint32_t(get16(p)) << 16) | get16(p + 2); }

// An address attribute's value (RFC 5389 §15.1): 0, family, port, address. IPv4 only;
// XOR-MAPPED-ADDRESS (§15.2) xors port and address with the magic cookie.
std::optional<core::Endpoint> address(const std::uint8_t* v, std::size_t len, bool xored) {
    if (len != 8 || v[1] != kFamilyIpv4)
        return std::nullopt;
    core::Endpoint e{get32(v + 4), get16(v + 2)};
    if (xored) {
        e.port ^= std::uint16_t(kMagicCookie >> 16);
        e.addr ^= kMagicCookie;
    }
    return e;
}

} // namespace

std::vector<std::uint8_t> binding_request(const TransactionId& id, std::uint32_t change) {
    std::vector<std::uint8_t> b;
    b.reserve(kHeaderSize + 8);
    put16(b, kBindingRequest);
    put16(b, change ? 8 : 0);
    put32(b, kMagicCookie);
    b.insert(b.end(), id.begin(), id.end());
    if (change) {
        put16(b, kChangeRequest);
        put16(b, 4);
        put32(b, change & (kChangeIp | kChangePort));
    }
    return b;
}

std::optional<BindingResponse> parse_binding_response(std::span<const std::uint8_t> bytes, const TransactionId& id) {
    // §6: the two top bits are zero, the length excludes the header and is a multiple of 4.
    if (bytes.size() < kHeaderSize || (bytes[0] & 0xc0) != 0)
        return std::nullopt;
    const std::uint16_t type = get16(&bytes[0]);
    const std::size_t length = get16(&bytes[2]);
    if (length % 4 != 0 || kHeaderSize + length != bytes.size() || get32(&bytes[4]) != kMagicCookie)
        return std::nullopt;
    for (std::size_t i = 0; i < id.size(); ++i)
        if (bytes[8 + i] != id[i])
            return std::nullopt;
    if (type != kBindingSuccess && type != kBindingError)
        return std::nullopt;
    BindingResponse r;
    r.success = type == kBindingSuccess;
    std::optional<core::Endpoint> mapped, xor_mapped, other, changed, origin, source;
    for (std::size_t at = kHeaderSize; at < bytes.size();) {
        if (bytes.size() - at < 4)
            return std::nullopt;
        const std::uint16_t attr = get16(&bytes[at]);
        const std::size_t len = get16(&bytes[at + 2]);
        const std::size_t padded = (len + 3) & ~std::size_t(3); // §15: values padded to 4 bytes
        if (bytes.size() - at - 4 < padded)
            return std::nullopt;
        const std::uint8_t* v = &bytes[at + 4];
        switch (attr) {
        case kMappedAddress: mapped = address(v, len, false); break;
        case kXorMappedAddress: xor_mapped = address(v, len, true); break;
        case kOtherAddress: other = address(v, len, false); break;
        case kChangedAddress: changed = address(v, len, false); break;
        case kResponseOrigin: origin = address(v, len, false); break;
        case kSourceAddress: source = address(v, len, false); break;
        case kErrorCode:
            if (len >= 4) r.error_code = std::uint16_t((v[2] & 0x7) * 100 + v[3] % 100);
            break;
        default: break; // unknown comprehension-optional or -required: a response, not our concern
        }
        at += 4 + padded;
    }
    r.mapped = xor_mapped ? xor_mapped : mapped;
    r.other_address = other ? other : changed;
    r.response_origin = origin ? origin : source;
    if (r.success && !r.mapped)
        return std::nullopt; // §7.3.3: a success response without a mapped address is useless
    return r;
}

} // namespace conenat::stun
