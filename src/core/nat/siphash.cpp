#include "conenat/core/nat/siphash.hpp"

#include <bit>

namespace conenat::core {

namespace {

// Little-endian load of `n` <= 8 bytes, whatever the host's byte order (the reference's U8TO64_LE).
std::uint64_t load_le(const std::uint8_t* p, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t(p[i]) << (8 * i);
    return v;
}

struct State {
    std::uint64_t v0, v1, v2, v3;
    void round() {
        v0 += v1; v1 = std::rotl(v1, 13); v1 ^= v0; v0 = std::rotl(v0, 32);
        v2 += v3; v3 = std::rotl(v3, 16); v3 ^= v2;
        v0 += v3; v3 = std::rotl(v3, 21); v3 ^= v0;
        v2 += v1; v1 = std::rotl(v1, 17); v1 ^= v2; v2 = std::rotl(v2, 32);
    }
    void compress(std::uint64_t m) { // c = 2 rounds per message word
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    }
};

} // namespace

std::uint64_t siphash24(const SipKey& key, const std::uint8_t* data, std::size_t len) {
    // "somepseudorandomlygeneratedbytes", the initial state of the paper (§2).
    State s{key.k0 ^ 0x736f6d6570736575ULL, key.k1 ^ 0x646f72616e646f6dULL, key.k0 ^ 0x6c7967656e657261ULL,
            key.k1 ^ 0x7465646279746573ULL};
    std::size_t i = 0;
    for (; i + 8 <= len; i += 8) s.compress(load_le(data + i, 8));
    // The last word: the remaining bytes, and the length mod 256 in its top byte.
    s.compress(load_le(data + i, len - i) | std::uint64_t(len & 0xff) << 56);
    s.v2 ^= 0xff;
    for (int r = 0; r < 4; ++r) s.round(); // d = 4 finalization rounds
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

SipKey sip_key_of(std::string_view secret) {
    // Two fixed, public keys: the secret string is the only secret, and 128 bits come out of it.
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(secret.data());
    return {siphash24({0x636f6e656e617464ULL, 0x706f72742d6b6579ULL}, bytes, secret.size()),
            siphash24({0x706f72742d6b6579ULL, 0x636f6e656e617464ULL}, bytes, secret.size())};
}

} // namespace conenat::core
