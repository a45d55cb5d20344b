// STUN Binding messages (RFC 5389) and the RFC 5780 behaviour decisions.
#include "conenat/util/stun.hpp"
#include "conenat/util/stun_behaviour.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using namespace conenat;
using namespace conenat::stun;
using core::Endpoint;
using core::make_ipv4;

namespace {

const TransactionId kId{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

struct Message {
    std::vector<std::uint8_t> b;
    explicit Message(std::uint16_t type, const TransactionId& id = kId) {
        put16(type);
        put16(0);
        put32(kMagicCookie);
        b.insert(b.end(), id.begin(), id.end());
    }
    void put16(std::uint16_t v) { b.push_back(std::uint8_t(v >> 8)), b.push_back(std::uint8_t(v)); }
    void put32(std::uint32_t v) { put16(std::uint16_t(v >> 16)), put16(std::uint16_t(v)); }
    Message& attr(std::uint16_t type, const std::vector<std::uint8_t>& value) {
        put16(type);
        put16(std::uint16_t(value.size()));
        b.insert(b.end(), value.begin(), value.end());
        while (b.size() % 4) b.push_back(0);
        const std::size_t len = b.size() - kHeaderSize;
        b[2] = std::uint8_t(len >> 8), b[3] = std::uint8_t(len);
        return *this;
    }
    Message& address(std::uint16_t type, Endpoint e, bool xored = false) {
        if (xored) e.port ^= std::uint16_t(kMagicCookie >> 16), e.addr ^= kMagicCookie;
        return attr(type, {0, 1, std::uint8_t(e.port >> 8), std::uint8_t(e.port), std::uint8_t(e.addr >> 24),
                           std::uint8_t(e.addr >> 16), std::uint8_t(e.addr >> 8), std::uint8_t(e.addr)});
    }
};

const Endpoint kMapped{make_ipv4(198, 51, 100, 254), 40000};
const Endpoint kOther{make_ipv4(198, 51, 100, 2), 3479};
const Endpoint kOrigin{make_ipv4(198, 51, 100, 1), 3478};

} // namespace

TEST_SUITE("stun") {

TEST_CASE("a Binding request: header, cookie, transaction id, CHANGE-REQUEST") {
    const auto plain = binding_request(kId);
    REQUIRE(plain.size() == 20);
    CHECK(plain[0] == 0x00);
    CHECK(plain[1] == 0x01);
    CHECK(plain[3] == 0);
    CHECK(plain[4] == 0x21);
    CHECK(plain[7] == 0x42);
    CHECK(plain[8] == 1);
    CHECK(plain[19] == 12);
    const auto change = binding_request(kId, kChangeIp | kChangePort);
    REQUIRE(change.size() == 28);
    CHECK(change[3] == 8);
    CHECK(change[21] == 0x03);
    CHECK(change[27] == 0x06);
    CHECK(!parse_binding_response(change, kId)); // a request is no response
}

TEST_CASE("a success response: XOR-MAPPED-ADDRESS, OTHER-ADDRESS, RESPONSE-ORIGIN") {
    Message m(0x0101);
    m.address(0x0001, {1, 1}).address(0x0020, kMapped, true).address(0x802c, kOther).address(0x802b, kOrigin);
    m.attr(0x8022, {'x', 'y', 'z'}); // SOFTWARE, padded
    const auto r = parse_binding_response(m.b, kId);
    REQUIRE(r);
    CHECK(r->success);
    CHECK(r->mapped == kMapped); // XOR-MAPPED-ADDRESS wins over MAPPED-ADDRESS
    CHECK(r->other_address == kOther);
    CHECK(r->response_origin == kOrigin);
}

TEST_CASE("RFC 3489 servers: MAPPED-ADDRESS, CHANGED-ADDRESS, SOURCE-ADDRESS") {
    Message m(0x0101);
    m.address(0x0001, kMapped).address(0x0005, kOther).address(0x0004, kOrigin);
    const auto r = parse_binding_response(m.b, kId);
    REQUIRE(r);
    CHECK(r->mapped == kMapped);
    CHECK(r->other_address == kOther);
    CHECK(r->response_origin == kOrigin);
}

TEST_CASE("an error response carries its code") {
    Message m(0x0111);
    m.attr(0x0009, {0, 0, 4, 20, 'n', 'o'});
    const auto r = parse_binding_response(m.b, kId);
    REQUIRE(r);
    CHECK(!r->success);
    CHECK(r->error_code == 420);
}

TEST_CASE("malformed or foreign messages are discarded") {
    Message ok(0x0101);
    ok.address(0x0020, kMapped, true);
    REQUIRE(parse_binding_response(ok.b, kId));
    TransactionId other = kId;
    other[11] ^= 1;
    CHECK(!parse_binding_response(ok.b, other)); // another transaction
    auto truncated = ok.b;
    truncated.pop_back();
    CHECK(!parse_binding_response(truncated, kId));
    auto long_attr = ok.b;
    long_attr[23] = 40; // the attribute claims more than the message holds
    CHECK(!parse_binding_response(long_attr, kId));
    auto cookie = ok.b;
    cookie[4] = 0;
    CHECK(!parse_binding_response(cookie, kId));
    auto top_bits = ok.b;
    top_bits[0] |= 0x80;
    CHECK(!parse_binding_response(top_bits, kId));
    CHECK(!parse_binding_response(std::vector<std::uint8_t>(5, 0), kId));
    Message ipv6(0x0101); // only an IPv6 mapped address: nothing this client can use
    ipv6.attr(0x0020, std::vector<std::uint8_t>(20, 0));
    ipv6.b[kHeaderSize + 5] = 2;
    CHECK(!parse_binding_response(ipv6.b, kId));
    Message indication(0x0011);
    indication.address(0x0020, kMapped, true);
    CHECK(!parse_binding_response(indication.b, kId));
}

TEST_CASE("RFC 5780 mapping decisions (§4.3)") {
    const Endpoint local{make_ipv4(100, 64, 0, 2), 5000};
    const Endpoint a{make_ipv4(203, 0, 113, 1), 5000}, b{make_ipv4(203, 0, 113, 1), 6000}, c{make_ipv4(203, 0, 113, 1), 7000};
    CHECK(mapping_behaviour({local, a, a, a}) == Behaviour::EndpointIndependent);
    CHECK(mapping_behaviour({local, a, b, b}) == Behaviour::AddressDependent);
    CHECK(mapping_behaviour({local, a, b, c}) == Behaviour::AddressAndPortDependent);
    CHECK(mapping_behaviour({local, a, std::nullopt, std::nullopt}) == Behaviour::Unknown);
    CHECK(mapping_behaviour({local, std::nullopt, std::nullopt, std::nullopt}) == Behaviour::Unknown);
    CHECK(!no_nat({local, a, a, a}));
    CHECK(no_nat({local, local, local, local}));
    CHECK(!no_nat({local, std::nullopt, std::nullopt, std::nullopt}));
}

TEST_CASE("RFC 5780 filtering decisions (§4.4)") {
    CHECK(filtering_behaviour({true, true, true}) == Behaviour::EndpointIndependent);
    CHECK(filtering_behaviour({true, false, true}) == Behaviour::AddressDependent);
    CHECK(filtering_behaviour({true, false, false}) == Behaviour::AddressAndPortDependent);
    CHECK(filtering_behaviour({false, false, false}) == Behaviour::Unknown);
    CHECK(to_string(Behaviour::AddressAndPortDependent) == "address-and-port-dependent");
}

}
