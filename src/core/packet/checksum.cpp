#include "conenat/core/packet/checksum.hpp"

namespace conenat::core {

std::uint32_t csum_partial(std::span<const std::uint8_t> bytes, std::uint32_t sum) {
    // A 64-bit accumulator cannot overflow for any IP packet; folding it back to 32 bits
    // keeps the value modulo 0xFFFF because 2^32 == 1 (mod 0xFFFF).
    std::uint64_t acc = sum;
    std::size_t i = 0;
    for (; i + 1 < bytes.size(); i += 2)
        acc += load16(&bytes[i]);
    if (i < bytes.size())
        acc += std::uint32_t(bytes[i]) << 8; // RFC 1071 §4.1: odd tail padded with a zero byte
    while (acc >> 32)
        acc = (acc & 0xffffffffu) + (acc >> 32);
    return std::uint32_t(acc);
}

std::uint16_t csum_fold(std::uint32_t sum) {
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return std::uint16_t(sum);
}

std::uint16_t csum_finish(std::uint32_t sum) { return std::uint16_t(~csum_fold(sum)); }

std::uint16_t csum_replace16(std::uint16_t check, std::uint16_t old_word, std::uint16_t new_word) {
    // RFC 1624 §3 eqn. 3; eqn. 2 (RFC 1141) would yield -0 (0xFFFF) where +0 is right.
    std::uint32_t sum = std::uint16_t(~check);
    sum += std::uint16_t(~old_word);
    sum += new_word;
    return csum_finish(sum);
}

std::uint16_t csum_replace32(std::uint16_t check, std::uint32_t old_word, std::uint32_t new_word) {
    std::uint32_t sum = std::uint16_t(~check);
    sum += std::uint16_t(~(old_word >> 16));
    sum += std::uint16_t(~old_word);
    sum += new_word >> 16;
    sum += new_word & 0xffff;
    return csum_finish(sum);
}

} // namespace conenat::core
