// core::siphash24 against the reference vectors of the SipHash paper (key 00..0f, message
// 00 01 02 ...), and core::sip_key_of (a secret string -> its key).
#include "conenat/core/nat/siphash.hpp"

#include <doctest/doctest.h>

#include <cstdint>

using namespace conenat::core;

TEST_SUITE("siphash") {

TEST_CASE("SipHash-2-4: the reference vectors") {
    const SipKey key{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
    std::uint8_t in[32];
    for (int i = 0; i < 32; ++i) in[i] = std::uint8_t(i);
    CHECK(siphash24(key, in, 0) == 0x726fdb47dd0e0e31ULL);
    CHECK(siphash24(key, in, 1) == 0x74f839c593dc67fdULL);
    CHECK(siphash24(key, in, 2) == 0x0d6c8009d9a94f5aULL);
    CHECK(siphash24(key, in, 15) == 0xa129ca6149be45e5ULL); // the paper's appendix A
    CHECK(siphash24(key, in, 32) == 0x7127512f72f27cceULL);
    // The control: another key, another value.
    CHECK(siphash24({key.k0 ^ 1, key.k1}, in, 15) != 0xa129ca6149be45e5ULL);
}

TEST_CASE("sip_key_of: the same secret, the same key; another secret, another key") {
    const SipKey a = sip_key_of("correct-horse-battery-staple");
    CHECK(a == sip_key_of("correct-horse-battery-staple"));
    CHECK(!(a == sip_key_of("correct-horse-battery-stapl3")));
    CHECK(a.k0 != a.k1);
}

} // TEST_SUITE
