#include "conenat/core/packet/checksum.hpp"
#include "conenat/core/packet/parse.hpp"
#include "conenat/core/packet/rewrite.hpp"
#include "tests/support/packet_builder.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>

using namespace conenat::core;
using conenat::test::Bytes;
using conenat::test::Pkt;
using conenat::test::checksum_errors;
using conenat::test::hex;

namespace {

// RFC 1141 eqn. 2, kept only to show why it is wrong.
std::uint16_t rfc1141_eqn2(std::uint16_t hc, std::uint16_t m, std::uint16_t m_new) {
    std::uint32_t sum = std::uint32_t(hc) + m + std::uint16_t(~m_new);
    return csum_fold(sum);
}

std::string addr_text(Ipv4 a) {
    return std::to_string(a >> 24) + "." + std::to_string(a >> 16 & 0xff) + "." + std::to_string(a >> 8 & 0xff) +
           "." + std::to_string(a & 0xff);
}
std::string ep_text(Endpoint e) { return addr_text(e.addr) + ":" + std::to_string(e.port); }

// A random packet description that can be rebuilt with different endpoints.
struct Spec {
    int shape = 0; // 0 UDP, 1 UDP without checksum, 2 TCP, 3 ICMP echo, 4 ICMP echo reply
    Endpoint src, dst;
    Bytes payload, options;
    std::uint8_t ttl = 64, tos = 0, flags = 0;
    std::uint32_t seq = 0;

    Pkt build() const {
        Pkt p = shape <= 1 ? Pkt::udp(ep_text(src), ep_text(dst))
                : shape == 2 ? Pkt::tcp(ep_text(src), ep_text(dst), flags)
                             : Pkt::icmp_echo(addr_text(src.addr), addr_text(dst.addr), src.port, shape == 4);
        p.payload(payload).ttl(ttl).tos(tos).seq(seq).ip_options(options);
        if (shape == 1)
            p.udp_checksum_zero();
        return p;
    }
};

Spec random_spec(std::mt19937& rng) {
    auto byte = [&] { return std::uint8_t(rng()); };
    Spec s;
    s.shape = int(rng() % 5);
    s.src = {Ipv4(rng()), std::uint16_t(rng())};
    s.dst = {Ipv4(rng()), std::uint16_t(rng())};
    if (s.shape >= 3)
        s.dst.port = s.src.port;
    s.payload.resize(rng() % 64);
    for (auto& b : s.payload)
        b = byte();
    s.options.resize((rng() % 3) * 4, 1); // NOPs
    s.ttl = byte();
    s.tos = byte();
    s.flags = byte();
    s.seq = std::uint32_t(rng());
    return s;
}

} // namespace

TEST_SUITE("checksum") {

TEST_CASE("RFC 1071 §3 numerical example") {
    const Bytes data{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CHECK(csum_fold(csum_partial(data)) == 0xddf2);
    CHECK(csum_finish(csum_partial(data)) == 0x220d);
}

TEST_CASE("partial sums chain, pad an odd tail and fold with end-around carry") {
    const Bytes data{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11};
    const auto whole = csum_partial(data);
    CHECK(csum_fold(csum_partial(std::span(data).subspan(4), csum_partial(std::span(data).first(4)))) ==
          csum_fold(whole));
    CHECK(csum_partial(Bytes{0xab}) == 0xab00);
    CHECK(csum_fold(0x1fffe) == 0xffff);
    CHECK(csum_fold(0x2ddf0) == 0xddf2);
    CHECK(csum_fold(0) == 0);
}

TEST_CASE("CSUM-1: RFC 1624 §4 test vector gives +0 with eqn. 3 (eqn. 2 gives -0)") {
    CHECK(csum_replace16(0xdd2f, 0x5555, 0x3285) == 0x0000);
    CHECK(rfc1141_eqn2(0xdd2f, 0x5555, 0x3285) == 0xffff);
}

TEST_CASE("CSUM-1: a 32-bit replace is two 16-bit replaces") {
    std::mt19937 rng(7);
    for (int i = 0; i < 1000; ++i) {
        const std::uint16_t hc = std::uint16_t(rng());
        const std::uint32_t from = std::uint32_t(rng()), to = std::uint32_t(rng());
        const auto two = csum_replace16(csum_replace16(hc, std::uint16_t(from >> 16), std::uint16_t(to >> 16)),
                                        std::uint16_t(from), std::uint16_t(to));
        CHECK(two == csum_replace32(hc, from, to));
    }
}

TEST_CASE("CSUM-1: incremental update of a header word equals a full recompute") {
    std::mt19937 rng(11);
    for (int i = 0; i < 2000; ++i) {
        Bytes hdr(20);
        for (auto& b : hdr)
            b = std::uint8_t(rng());
        hdr[0] = 0x45;
        store16(&hdr[10], 0);
        store16(&hdr[10], csum_finish(csum_partial(hdr)));
        const std::size_t word = (rng() % 10) * 2;
        if (word == 10)
            continue;
        const std::uint16_t old_word = load16(&hdr[word]), new_word = std::uint16_t(rng());
        store16(&hdr[word], new_word);
        const std::uint16_t incremental = csum_replace16(load16(&hdr[10]), old_word, new_word);
        store16(&hdr[10], 0);
        CHECK(incremental == csum_finish(csum_partial(hdr)));
    }
}

TEST_CASE("CSUM-1: random packets and random rewrites match a from-scratch build byte for byte") {
    std::mt19937 rng(20240601);
    for (int i = 0; i < 3000; ++i) {
        Spec spec = random_spec(rng);
        Bytes pkt = spec.build().bytes();
        PacketView view = parse_ipv4(pkt);
        REQUIRE(view.kind != PacketKind::Malformed);

        const Endpoint to{Ipv4(rng()), std::uint16_t(rng())};
        const int op = int(rng() % 4);
        switch (op) {
        case 0:
            rewrite_source(pkt, view, to);
            spec.src = to;
            if (spec.shape >= 3)
                spec.dst.port = to.port;
            break;
        case 1:
            rewrite_destination(pkt, view, to);
            spec.dst = to;
            if (spec.shape >= 3)
                spec.src.port = to.port;
            break;
        case 2:
            rewrite_source_addr(pkt, view, to.addr);
            spec.src.addr = to.addr;
            break;
        default:
            rewrite_destination_addr(pkt, view, to.addr);
            spec.dst.addr = to.addr;
            break;
        }
        const Bytes expected = spec.build().bytes();
        INFO("shape ", spec.shape, " op ", op, "\n got  ", hex(pkt), "\n want ", hex(expected));
        CHECK(pkt == expected);
        CHECK(checksum_errors(pkt) == "");
        CHECK(view.src == spec.src);
        CHECK(view.dst == spec.dst);
    }
}

TEST_CASE("CSUM-3: random inner rewrites of ICMP errors match a from-scratch build byte for byte") {
    std::mt19937 rng(5508);
    for (int i = 0; i < 3000; ++i) {
        Spec inner = random_spec(rng);
        const bool whole = rng() % 2;
        const std::uint8_t type = rng() % 2 ? 3 : 11;
        auto error = [&] {
            const Bytes quoted = inner.build().bytes();
            return Pkt::icmp_error("198.51.100.9", "198.51.100.254", type, 0, quoted, whole ? quoted.size() : 0)
                .bytes();
        };
        Bytes pkt = error();
        PacketView view = parse_ipv4(pkt);
        REQUIRE(view.kind == PacketKind::IcmpError);

        const Endpoint to{Ipv4(rng()), std::uint16_t(rng())};
        const bool src = rng() % 2;
        if (src) {
            rewrite_inner_source(pkt, view, to);
            inner.src = to;
            if (inner.shape >= 3)
                inner.dst.port = to.port;
        } else {
            rewrite_inner_destination(pkt, view, to);
            inner.dst = to;
            if (inner.shape >= 3)
                inner.src.port = to.port;
        }
        const Bytes expected = error();
        INFO("shape ", inner.shape, " whole ", whole, " src ", src, "\n got  ", hex(pkt), "\n want ",
             hex(expected));
        CHECK(pkt == expected);
        CHECK(checksum_errors(pkt) == "");
        CHECK(view.inner.src == inner.src);
        CHECK(view.inner.dst == inner.dst);
    }
}

} // TEST_SUITE
