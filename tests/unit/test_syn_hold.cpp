// core::SynHold: the one store of held SYNs (RFC 5382 REQ-4) and their packets.
#include "conenat/core/nat/syn_hold.hpp"
#include "conenat/core/packet/parse.hpp"
#include "tests/support/packet_builder.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace conenat::core;
using namespace conenat::test;

TEST_SUITE("syn hold") {

TEST_CASE("a kept packet comes back once, on release or on expiry, as much of it as a 3/3 quotes") {
    SynHold h(4, 4);
    Counter why{};
    const Bytes syn = Pkt::tcp("192.0.2.9:9", "198.51.100.254:5000", tcp_flag::Syn).bytes();
    const Bytes big(1500, 0x45);
    const std::uint32_t a = h.add(ep("198.51.100.254:5000"), ep("192.0.2.9:9"), 100, syn, why);
    const std::uint32_t b = h.add(ep("198.51.100.254:5000"), ep("192.0.2.9:10"), 100, big, why);
    const std::uint32_t c = h.add(ep("198.51.100.254:5000"), ep("192.0.2.9:11"), 200, syn, why);
    REQUIRE((a && b && c));
    CHECK(h.keep(a, 7, 1));
    CHECK(h.keep(b));
    CHECK_FALSE(h.keep(b)); // kept already
    CHECK(h.kept() == 2);

    CHECK(h.release(ep("198.51.100.254:5000"), ep("192.0.2.9:9")) == a);
    const SynHold::Held* held = h.take(a);
    REQUIRE(held);
    CHECK(held->handle == 7);
    CHECK(held->tag == 1);
    CHECK(Bytes(held->packet().begin(), held->packet().end()) == syn);
    CHECK(h.take(a) == nullptr);

    CHECK(h.pop_expired(99) == 0);
    CHECK(h.pop_expired(100) == b); // a was released: skipped
    held = h.take(b);
    REQUIRE(held);
    CHECK(held->packet().size() == SynHold::kQuoteBytes);
    CHECK(h.pop_expired(200) == c);
    CHECK(h.take(c) == nullptr); // never kept (handed to another worker)
    CHECK(h.kept() == 0);
    CHECK(h.size() == 0);
}

TEST_CASE("tokens stay unique as slots are reused; a stale token finds nothing") {
    SynHold h(2, 2);
    Counter why{};
    std::set<std::uint32_t> seen;
    std::uint32_t stale = 0;
    for (TimeMs t = 1; t <= 50; ++t) {
        const std::uint32_t tok = h.add(ep("198.51.100.254:5000"), {ip("192.0.2.9"), std::uint16_t(t)}, t, Bytes(40, 1), why);
        REQUIRE(tok != 0);
        CHECK(seen.insert(tok).second);
        CHECK(h.keep(tok));
        CHECK(h.pop_expired(t) == tok);
        if (t == 1) stale = tok;
        CHECK(h.take(tok) != nullptr);
    }
    CHECK(h.take(stale) == nullptr);
    CHECK_FALSE(h.keep(stale));
}

} // TEST_SUITE
