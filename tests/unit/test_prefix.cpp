// core::Prefix (the internal network) and PoolConfig::is_external (our external addresses).
#include "conenat/core/nat/config.hpp"
#include "tests/support/packet_builder.hpp"

#include <doctest/doctest.h>

using namespace conenat::core;
using namespace conenat::test;

TEST_CASE("Prefix: contains, at every length edge") {
    CHECK(Prefix{ip("10.0.0.0"), 24}.contains(ip("10.0.0.255")));
    CHECK_FALSE(Prefix{ip("10.0.0.0"), 24}.contains(ip("10.0.1.0")));
    CHECK(Prefix{0, 0}.contains(ip("203.0.113.5"))); // /0 holds everything
    CHECK(Prefix{ip("10.0.0.7"), 32}.contains(ip("10.0.0.7")));
    CHECK_FALSE(Prefix{ip("10.0.0.7"), 32}.contains(ip("10.0.0.6")));
    CHECK(Prefix{ip("100.64.0.0"), 10}.contains(ip("100.127.255.255")));
    CHECK(Prefix::mask_of(0) == 0);
    CHECK(Prefix::mask_of(1) == 0x80000000u);
    CHECK(Prefix::mask_of(32) == 0xffffffffu);
}

TEST_CASE("PoolConfig::is_external: exactly the pool's addresses") {
    PoolConfig pool;
    pool.external_addrs = {ip("198.51.100.254"), ip("198.51.100.253")};
    CHECK(pool.is_external(ip("198.51.100.253")));
    CHECK_FALSE(pool.is_external(ip("198.51.100.252")));
}
