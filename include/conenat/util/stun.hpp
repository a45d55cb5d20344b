// STUN messages (RFC 5389) for NAT behaviour discovery (RFC 5780): Binding requests, with
// CHANGE-REQUEST, built; Binding responses parsed. Pure and allocation-light; a malformed,
// truncated or foreign message parses to nullopt, never a crash (fuzzed: fuzz_stun).
#pragma once

#include "conenat/core/types.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace conenat::stun {

constexpr std::uint16_t kDefaultPort = 3478;
constexpr std::uint32_t kMagicCookie = 0x2112A442; // RFC 5389 §6
constexpr std::size_t kHeaderSize = 20;

using TransactionId = std::array<std::uint8_t, 12>;

// RFC 5780 §7.2 CHANGE-REQUEST flags: answer from the other address / the other port.
constexpr std::uint32_t kChangeIp = 0x4, kChangePort = 0x2;

// A Binding request (RFC 5389 §6) for transaction `id`; with CHANGE-REQUEST when `change` is
// not 0 (RFC 5780 §7.2).
std::vector<std::uint8_t> binding_request(const TransactionId& id, std::uint32_t change = 0);

struct BindingResponse {
    bool success = false;           // Binding success response; else an error response
    std::uint16_t error_code = 0;   // error responses: class * 100 + number (RFC 5389 §15.6)
    std::optional<core::Endpoint> mapped;          // XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS
    std::optional<core::Endpoint> other_address;   // OTHER-ADDRESS (RFC 5780 §7.4), else CHANGED-ADDRESS
    std::optional<core::Endpoint> response_origin; // RESPONSE-ORIGIN (RFC 5780 §7.3), else SOURCE-ADDRESS
};

// The Binding response to transaction `id` in `bytes`, or nullopt: not STUN, not a Binding
// response, another transaction, or malformed (RFC 5389 §7.3: such messages are discarded).
// IPv6 address attributes are skipped (this client speaks IPv4).
std::optional<BindingResponse> parse_binding_response(std::span<const std::uint8_t> bytes, const TransactionId& id);

} // namespace conenat::stun
