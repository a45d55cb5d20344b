// Internet checksum arithmetic (RFC 1071) and incremental updates (RFC 1624).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace conenat::core {

// One's-complement partial sum of `bytes` (big-endian 16-bit words, odd tail padded), added to `sum`.
std::uint32_t csum_partial(std::span<const std::uint8_t> bytes, std::uint32_t sum = 0);
// Folds a partial sum to 16 bits with end-around carry (not complemented).
std::uint16_t csum_fold(std::uint32_t sum);
// The checksum field value for `bytes`: ~fold(partial).
std::uint16_t csum_finish(std::uint32_t sum);
// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for one 16-bit field changing from m to m'.
std::uint16_t csum_replace16(std::uint16_t check, std::uint16_t old_word, std::uint16_t new_word);
// The same for a 32-bit field (two 16-bit words), e.g. an IPv4 address.
std::uint16_t csum_replace32(std::uint16_t check, std::uint32_t old_word, std::uint32_t new_word);

// Big-endian loads and stores on raw packet bytes (no alignment assumed).
inline std::uint16_t load16(const std::uint8_t* p) { return std::uint16_t(p[0] << 8 | p[1]); }
inline std::uint32_t load32(const std::uint8_t* p) {
    return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}
inline void store16(std::uint8_t* p, std::uint16_t v) { p[0] = std::uint8_t(v >> 8); p[1] = std::uint8_t(v); }
inline void store32(std::uint8_t* p, std::uint32_t v) {
    p[0] = std::uint8_t(v >> 24); p[1] = std::uint8_t(v >> 16); p[2] = std::uint8_t(v >> 8); p[3] = std::uint8_t(v);
}

} // namespace conenat::core
