// SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed PRF over short inputs, for choices that
// must be unpredictable to outsiders yet the same wherever the key is (RFC 6056 §3.3.3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace conenat::core {

// A 128-bit SipHash key (k0, k1: its two little-endian halves).
struct SipKey {
    std::uint64_t k0 = 0, k1 = 0;
    friend bool operator==(const SipKey&, const SipKey&) = default;
};

// SipHash-2-4 of `len` bytes at `data` under `key`, as the reference implementation computes it.
std::uint64_t siphash24(const SipKey& key, const std::uint8_t* data, std::size_t len);

// The key a shared secret string stands for: the same string gives the same key on every router.
SipKey sip_key_of(std::string_view secret);

} // namespace conenat::core
