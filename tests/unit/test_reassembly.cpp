#include "conenat/core/packet/checksum.hpp"
#include "conenat/core/packet/parse.hpp"
#include "conenat/core/packet/reassembly.hpp"
#include "tests/support/packet_builder.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

using namespace conenat::core;
using conenat::test::Bytes;
using conenat::test::Pkt;
using conenat::test::checksum_errors;
using conenat::test::hex;
using Status = Reassembler::Status;

namespace {

const Bytes options = {0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00}; // router alert + NOPs

// An unfragmented UDP datagram (id 0x4242, DF clear) with `n` payload bytes in a pattern.
Bytes datagram(std::string_view src = "10.0.0.2:5000", std::size_t n = 100, std::uint8_t seed = 1) {
    Bytes payload(n);
    for (std::size_t i = 0; i < n; ++i)
        payload[i] = std::uint8_t(i * 7 + seed);
    return Pkt::udp(src, "198.51.100.1:3478").payload(payload).ip_id(0x4242).bytes();
}

std::size_t header_len(const Bytes& pkt) { return std::size_t(pkt[0] & 0x0f) * 4; }

void fix_ip_checksum(Bytes& pkt) {
    store16(&pkt[10], 0);
    store16(&pkt[10], csum_finish(csum_partial(std::span(pkt).first(header_len(pkt)))));
}

// What a router would send for bytes [from, to) of `pkt`'s IP payload: the first fragment
// keeps the whole header (options too), later ones a 20-byte header; MF unless `to` is the
// end (or as `more` says), offset from/8, DF as in `pkt`.
Bytes fragment(const Bytes& pkt, std::size_t from, std::size_t to, int more = -1) {
    const std::size_t hlen = header_len(pkt), out_hlen = from == 0 ? hlen : 20;
    const bool mf = more < 0 ? hlen + to < pkt.size() : more == 1;
    Bytes f(pkt.begin(), pkt.begin() + std::ptrdiff_t(out_hlen));
    f[0] = std::uint8_t(0x40 | out_hlen / 4);
    f.insert(f.end(), pkt.begin() + std::ptrdiff_t(hlen + from), pkt.begin() + std::ptrdiff_t(hlen + to));
    store16(&f[2], std::uint16_t(f.size()));
    store16(&f[6], std::uint16_t((load16(&pkt[6]) & 0x4000) | (mf ? 0x2000 : 0) | from / 8));
    fix_ip_checksum(f);
    return f;
}

// `pkt` cut at the given payload offsets (the first is 0): one fragment per piece.
std::vector<Bytes> split(const Bytes& pkt, std::initializer_list<std::size_t> cuts) {
    std::vector<std::size_t> at(cuts);
    at.push_back(pkt.size() - header_len(pkt));
    std::vector<Bytes> out;
    for (std::size_t i = 0; i + 1 < at.size(); ++i)
        out.push_back(fragment(pkt, at[i], at[i + 1]));
    return out;
}

Bytes edited_header(Bytes pkt, std::size_t at, std::uint8_t value) {
    pkt[at] = value;
    fix_ip_checksum(pkt);
    return pkt;
}

// Feeds `frags` in order; all but the last must be Incomplete; returns the last result.
Reassembler::Result feed_all(Reassembler& r, const std::vector<Bytes>& frags, TimeMs now = 0) {
    for (std::size_t i = 0; i + 1 < frags.size(); ++i) {
        CAPTURE(i);
        CHECK(r.feed(frags[i], now).status == Status::Incomplete);
    }
    return r.feed(frags.back(), now);
}

// A Complete result that is `original` byte for byte, with every checksum right.
void check_datagram(const Reassembler::Result& res, const Bytes& original) {
    REQUIRE(res.status == Status::Complete);
    CHECK(hex(res.datagram) == hex(original));
    CHECK(checksum_errors(res.datagram) == "");
    CHECK(parse_ipv4(res.datagram).kind == PacketKind::Udp);
}

} // namespace

TEST_SUITE("reassembly") {

TEST_CASE("a packet that is not a fragment is passed on untouched and not counted") {
    Reassembler r;
    const Bytes plain = datagram();
    const Bytes df = Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").df().bytes();
    const Bytes bad_checksum = Pkt::udp("10.0.0.2:5000", "198.51.100.1:53").bad_ip_checksum().bytes();
    const Bytes short_garbage = {0x45, 0x00, 0x20, 0x00};
    const Bytes ipv6_like = edited_header(fragment(plain, 0, 16), 0, 0x65);
    for (const Bytes* p : {&plain, &df, &bad_checksum, &short_garbage, &ipv6_like}) {
        const auto res = r.feed(*p, 0);
        CHECK(res.status == Status::NotFragment);
        CHECK(res.datagram.empty());
    }
    CHECK(r.counters().fragments_in == 0);
    CHECK(r.counters().dropped_malformed == 0);
    CHECK(r.in_progress() == 0);
}

TEST_CASE("fragments in order 1-2-3 give back the original datagram") {
    Reassembler r;
    const Bytes original = datagram();
    const auto frags = split(original, {0, 40, 80});
    CHECK(r.feed(frags[0], 0).status == Status::Incomplete);
    CHECK(r.in_progress() == 1);
    CHECK(r.feed(frags[1], 0).status == Status::Incomplete);
    check_datagram(r.feed(frags[2], 0), original);
    CHECK(r.in_progress() == 0);
    CHECK(r.counters().fragments_in == 3);
    CHECK(r.counters().datagrams_done == 1);
}

TEST_CASE("UDP-14 (RFC 4787 REQ-14): fragments in any order, 3-2-1 and 2-3-1 among them") {
    const Bytes original = datagram("10.0.0.2:5000", 300);
    const auto frags = split(original, {0, 104, 208});
    std::array<std::size_t, 3> order{0, 1, 2};
    int orders = 0;
    do {
        CAPTURE(order[0]);
        CAPTURE(order[1]);
        CAPTURE(order[2]);
        Reassembler r;
        check_datagram(feed_all(r, {frags[order[0]], frags[order[1]], frags[order[2]]}), original);
        CHECK(r.in_progress() == 0);
        ++orders;
    } while (std::next_permutation(order.begin(), order.end()));
    CHECK(orders == 6);
}

TEST_CASE("the header kept is the first fragment's, options and all, whichever arrives first") {
    const Bytes original = Pkt::udp("10.0.0.2:5000", "198.51.100.1:3478")
                               .payload(Bytes(100, 0xab)).ip_id(0x4242).ip_options(options).bytes();
    REQUIRE(header_len(original) == 28);
    auto frags = split(original, {0, 40, 80});
    CHECK(header_len(frags[0]) == 28);
    // Later fragments carry no options and, to tell them apart, another TTL.
    frags[1] = edited_header(frags[1], 8, 9);
    frags[2] = edited_header(frags[2], 8, 9);
    Reassembler r;
    check_datagram(feed_all(r, {frags[2], frags[1], frags[0]}), original);
}

TEST_CASE("MF and offset are cleared, the other flag bits kept") {
    const Bytes original = Pkt::udp("10.0.0.2:5000", "198.51.100.1:3478").payload("0123456789abcdef0123")
                               .ip_id(7).df().bytes();
    Reassembler r;
    const auto res = feed_all(r, split(original, {0, 16}));
    check_datagram(res, original);
    CHECK(load16(&res.datagram[6]) == 0x4000);
}

TEST_CASE("an exact duplicate fragment is ignored") {
    Reassembler r;
    const Bytes original = datagram();
    const auto frags = split(original, {0, 40, 80});
    check_datagram(feed_all(r, {frags[0], frags[0], frags[2], frags[2], frags[1]}), original);
    CHECK(r.counters().fragments_in == 5);
    CHECK(r.counters().dropped_overlap == 0);
    CHECK(r.counters().datagrams_done == 1);
}

TEST_CASE("a fragment overlapping received bytes in any other way drops the whole datagram") {
    const Bytes original = datagram();
    const auto frags = split(original, {0, 40, 80});
    std::vector<Bytes> sent;
    Bytes offender;
    SUBCASE("partial overlap") {
        sent = {frags[0]};
        offender = fragment(original, 32, 72);
    }
    SUBCASE("inside a received fragment, same bytes") {
        sent = {frags[0]};
        offender = fragment(original, 8, 16);
    }
    SUBCASE("the head of a received fragment, same bytes") {
        sent = {frags[0]};
        offender = fragment(original, 0, 16);
    }
    SUBCASE("the tail of a received fragment, same bytes") {
        sent = {frags[0]};
        offender = fragment(original, 8, 40);
    }
    SUBCASE("around a received fragment, same bytes") {
        sent = {frags[1]};
        offender = fragment(original, 32, 88);
    }
    SUBCASE("the length of two received fragments, same bytes") {
        sent = {frags[0], frags[1]};
        offender = fragment(original, 0, 80);
    }
    SUBCASE("same offset and length, other bytes") {
        sent = {frags[1]};
        offender = frags[1];
        offender.back() ^= 0xff;
    }
    SUBCASE("a second last fragment with another end") {
        sent = {fragment(original, 40, 48, 0)};
        offender = frags[2];
    }
    SUBCASE("a fragment past the end the last one gave") {
        sent = {fragment(original, 40, 48, 0)};
        offender = fragment(original, 80, 88);
    }
    SUBCASE("a last fragment ending before received bytes") {
        sent = {frags[1]};
        offender = fragment(original, 8, 16, 0);
    }
    Reassembler r;
    for (const Bytes& f : sent)
        CHECK(r.feed(f, 0).status == Status::Incomplete);
    CHECK(r.in_progress() == 1);
    CHECK(r.feed(offender, 0).status == Status::Dropped);
    CHECK(r.counters().dropped_overlap == 1);
    CHECK(r.in_progress() == 0); // what was received is gone
    CHECK(r.counters().datagrams_done == 0);
}

TEST_CASE("datagrams from two sources with the same id are kept apart") {
    const Bytes a = datagram("10.0.0.2:5000", 100, 1);
    const Bytes b = datagram("10.0.0.3:5000", 92, 2);
    REQUIRE(load16(&a[4]) == load16(&b[4]));
    const auto fa = split(a, {0, 40, 80});
    const auto fb = split(b, {0, 40, 80});
    Reassembler r;
    CHECK(r.feed(fa[0], 0).status == Status::Incomplete);
    CHECK(r.feed(fb[1], 0).status == Status::Incomplete);
    CHECK(r.feed(fb[0], 0).status == Status::Incomplete);
    CHECK(r.feed(fa[2], 0).status == Status::Incomplete);
    CHECK(r.in_progress() == 2);
    check_datagram(r.feed(fa[1], 0), a);
    check_datagram(r.feed(fb[2], 0), b);
    CHECK(r.counters().datagrams_done == 2);
    CHECK(r.in_progress() == 0);
}

TEST_CASE("a datagram not complete by its first fragment's time + timeout is dropped") {
    Reassembler r({.timeout_ms = 1000});
    const Bytes original = datagram();
    const auto frags = split(original, {0, 40, 80});
    CHECK(r.feed(frags[0], 5000).status == Status::Incomplete);
    CHECK(r.feed(frags[1], 5999).status == Status::Incomplete); // does not extend the deadline
    CHECK(r.counters().timed_out == 0);
    // Freed lazily by feed(): the last fragment starts a new datagram.
    CHECK(r.feed(frags[2], 6000).status == Status::Incomplete);
    CHECK(r.counters().timed_out == 1);
    CHECK(r.in_progress() == 1);

    r.expire(6999);
    CHECK(r.in_progress() == 1);
    r.expire(7000);
    CHECK(r.in_progress() == 0);
    CHECK(r.counters().timed_out == 2);
    CHECK(r.counters().datagrams_done == 0);
}

TEST_CASE("when every slot is taken, a new datagram evicts the oldest unfinished one") {
    Reassembler r({.slots = 2, .slots_per_source = 2});
    const Bytes a = datagram("10.0.0.2:5000"), b = datagram("10.0.0.3:5000"), c = datagram("10.0.0.4:5000");
    const auto fa = split(a, {0, 40}), fb = split(b, {0, 40}), fc = split(c, {0, 40});
    CHECK(r.feed(fb[0], 10).status == Status::Incomplete);
    CHECK(r.feed(fa[0], 20).status == Status::Incomplete);
    CHECK(r.feed(fc[0], 30).status == Status::Incomplete);
    CHECK(r.counters().evicted == 1);
    CHECK(r.in_progress() == 2);
    check_datagram(r.feed(fa[1], 40), a);
    check_datagram(r.feed(fc[1], 40), c);
    // b's first fragment was evicted: its last one alone cannot finish it.
    CHECK(r.feed(fb[1], 40).status == Status::Incomplete);
    CHECK(r.counters().datagrams_done == 2);
}

TEST_CASE("REQ-14a: a flooding source cannot take or evict another source's datagram") {
    Reassembler r({.slots = 4, .slots_per_source = 2});
    const Bytes victim = datagram("192.0.2.50:4000");
    const auto fv = split(victim, {0, 40});
    CHECK(r.feed(fv[0], 0).status == Status::Incomplete);
    CHECK(r.feed(fragment(datagram("192.0.2.60:4000"), 0, 40), 1).status == Status::Incomplete);
    for (std::uint16_t id = 1; id <= 10; ++id) {
        CAPTURE(id);
        const Bytes flood = Pkt::udp("203.0.113.66:666", "198.51.100.1:53").payload(Bytes(64, 0)).ip_id(id).bytes();
        CHECK(r.feed(fragment(flood, 0, 16), 1 + id).status == (id <= 2 ? Status::Incomplete : Status::Dropped));
    }
    CHECK(r.in_progress() == 4);
    CHECK(r.counters().dropped_source_share == 8);
    CHECK(r.counters().evicted == 0);
    check_datagram(r.feed(fv[1], 20), victim);
}

TEST_CASE("a datagram bigger than max_datagram is dropped") {
    SUBCASE("its last fragment goes past the limit") {
        Reassembler r({.max_datagram = 1000});
        const auto frags = split(datagram("10.0.0.2:5000", 1172), {0, 480, 960}); // 1200 bytes
        CHECK(r.feed(frags[0], 0).status == Status::Incomplete);
        CHECK(r.feed(frags[1], 0).status == Status::Incomplete); // 20 + 960 bytes fit
        CHECK(r.feed(frags[2], 0).status == Status::Dropped);
        CHECK(r.counters().dropped_too_big == 1);
        CHECK(r.in_progress() == 0);
    }
    SUBCASE("the first fragment's options push it past the limit") {
        Reassembler r({.max_datagram = 1000});
        const Bytes big = Pkt::udp("10.0.0.2:5000", "198.51.100.1:3478").payload(Bytes(968, 1)).ip_options(options)
                              .bytes(); // 28 + 976 bytes: one later fragment with a 20-byte header fits
        const auto frags = split(big, {0, 480});
        CHECK(r.feed(frags[1], 0).status == Status::Incomplete);
        CHECK(r.feed(frags[0], 0).status == Status::Dropped);
        CHECK(r.counters().dropped_too_big == 1);
        CHECK(r.in_progress() == 0);
    }
    SUBCASE("a fragment past 65535 bytes takes no slot") {
        Reassembler r;
        Bytes late = fragment(datagram(), 8, 104);
        store16(&late[6], 0x1fff); // the last fragment, at offset 65528
        fix_ip_checksum(late);
        CHECK(r.feed(late, 0).status == Status::Dropped);
        CHECK(r.counters().dropped_too_big == 1);
        CHECK(r.in_progress() == 0);
    }
    SUBCASE("exactly max_datagram bytes is fine") {
        Reassembler r({.max_datagram = 1000});
        const Bytes original = datagram("10.0.0.2:5000", 972);
        REQUIRE(original.size() == 1000);
        check_datagram(feed_all(r, split(original, {0, 496})), original);
    }
}

TEST_CASE("malformed fragments are dropped and counted, and disturb nothing") {
    const Bytes original = datagram();
    const auto frags = split(original, {0, 40, 80});
    Bytes bad;
    SUBCASE("truncated: total length past the buffer") {
        bad = frags[1];
        bad.resize(bad.size() - 1);
    }
    SUBCASE("truncated: IHL past the buffer") {
        bad = Bytes(frags[1].begin(), frags[1].begin() + 22);
        bad[0] = 0x46;
    }
    SUBCASE("IHL below 5") { bad = edited_header(frags[1], 0, 0x44); }
    SUBCASE("bad header checksum") {
        bad = frags[1];
        bad[10] ^= 1;
    }
    SUBCASE("MF set and a payload that is not a multiple of 8") { bad = fragment(original, 40, 44); }
    SUBCASE("no payload") { bad = fragment(original, 40, 40); }
    Reassembler r;
    CHECK(r.feed(frags[0], 0).status == Status::Incomplete);
    CHECK(r.feed(bad, 0).status == Status::Dropped);
    CHECK(r.counters().dropped_malformed == 1);
    CHECK(r.counters().fragments_in == 2);
    CHECK(r.in_progress() == 1);
    check_datagram(feed_all(r, {frags[1], frags[2]}), original);
}

TEST_CASE("a moved Reassembler keeps its datagrams") {
    const Bytes original = datagram();
    const auto frags = split(original, {0, 40, 80});
    Reassembler r;
    CHECK(r.feed(frags[0], 0).status == Status::Incomplete);
    Reassembler moved(std::move(r));
    CHECK(moved.feed(frags[1], 0).status == Status::Incomplete);
    Reassembler assigned({.slots = 1});
    assigned = std::move(moved);
    check_datagram(assigned.feed(frags[2], 0), original);
    CHECK(assigned.counters().fragments_in == 3);
}

} // TEST_SUITE
