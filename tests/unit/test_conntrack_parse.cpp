// FlowParser (ctnetlink events and dump entries read with libnetfilter_conntrack) and the delete
// it builds, on messages the kernel sent (tests/fuzz/seeds/fuzz_netlink, captured by
// capture_seeds.sh) and on messages built here: the one field the library cannot give, and
// hostile attributes the library would end the process for.
#include "io/conntrack_parse.hpp"
#include "io/netlink.hpp"

#include "conenat/core/types.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

using namespace conenat;
using core::Endpoint;
using core::Proto;

namespace {

// Every message of a captured datagram, 4-byte aligned as in the kernel's buffers.
std::vector<std::vector<std::uint32_t>> seed_messages(const std::string& name) {
    std::string dir = __FILE__;
    dir = dir.substr(0, dir.rfind('/') + 1) + "../fuzz/seeds/fuzz_netlink/";
    std::ifstream in(dir + name + ".bin", std::ios::binary);
    REQUIRE_MESSAGE(in, "seed " << name << " missing");
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::uint32_t> words((bytes.size() + 3) / 4 + 1);
    std::memcpy(words.data(), bytes.data(), bytes.size());
    std::vector<std::vector<std::uint32_t>> out;
    io::detail::for_each_message(words.data(), bytes.size(), [&](const nlmsghdr* nlh) {
        std::vector<std::uint32_t> m((NLMSG_ALIGN(nlh->nlmsg_len)) / 4);
        std::memcpy(m.data(), nlh, nlh->nlmsg_len);
        out.push_back(std::move(m));
    });
    return out;
}

const nlmsghdr* header(const std::vector<std::uint32_t>& m) {
    return reinterpret_cast<const nlmsghdr*>(m.data());
}

io::detail::FlowParser make_parser() {
    auto p = io::detail::FlowParser::create();
    REQUIRE(p);
    return std::move(*p);
}

// A ctnetlink message built with libmnl, attribute by attribute.
struct CtMessage {
    alignas(4) char buf[8192] = {};
    nlmsghdr* nlh;
    explicit CtMessage(std::uint8_t msg = IPCTNL_MSG_CT_NEW, std::uint8_t family = AF_INET) {
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg;
        auto* g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
        g->nfgen_family = family;
    }
    // A tuple; for ICMP `a` is the identifier (type 8, code 0) and `b` is unused.
    void tuple(int type, std::uint8_t proto, core::Ipv4 src, core::Ipv4 dst, std::uint16_t a, std::uint16_t b = 0) {
        nlattr* t = mnl_attr_nest_start(nlh, type);
        nlattr* ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
        mnl_attr_put_u32(nlh, CTA_IP_V4_SRC, htonl(src));
        mnl_attr_put_u32(nlh, CTA_IP_V4_DST, htonl(dst));
        mnl_attr_nest_end(nlh, ip);
        nlattr* p = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
        mnl_attr_put_u8(nlh, CTA_PROTO_NUM, proto);
        if (proto == IPPROTO_ICMP) {
            mnl_attr_put_u16(nlh, CTA_PROTO_ICMP_ID, htons(a));
            mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_TYPE, 8);
            mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_CODE, 0);
        } else {
            mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(a));
            mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(b));
        }
        mnl_attr_nest_end(nlh, p);
        mnl_attr_nest_end(nlh, t);
    }
    // A NATed echo: 10.0.0.2 id `orig_id` to 192.0.2.2, answered to 203.0.113.1 id `reply_id`.
    static CtMessage echo(std::uint16_t orig_id, std::uint16_t reply_id) {
        CtMessage m;
        m.tuple(CTA_TUPLE_ORIG, IPPROTO_ICMP, core::make_ipv4(10, 0, 0, 2), core::make_ipv4(192, 0, 2, 2), orig_id);
        m.tuple(CTA_TUPLE_REPLY, IPPROTO_ICMP, core::make_ipv4(192, 0, 2, 2), core::make_ipv4(203, 0, 113, 1), reply_id);
        mnl_attr_put_u32(m.nlh, CTA_STATUS, htonl(IPS_SRC_NAT | IPS_CONFIRMED));
        return m;
    }
    static CtMessage udp() {
        CtMessage m;
        m.tuple(CTA_TUPLE_ORIG, IPPROTO_UDP, core::make_ipv4(10, 0, 0, 2), core::make_ipv4(192, 0, 2, 2), 5000, 53);
        m.tuple(CTA_TUPLE_REPLY, IPPROTO_UDP, core::make_ipv4(192, 0, 2, 2), core::make_ipv4(203, 0, 113, 1), 53, 40000);
        return m;
    }
};

// The attributes of a message, by type, after its nfgenmsg.
std::multiset<int> top_types(const nlmsghdr* nlh) {
    std::multiset<int> types;
    io::detail::for_each_attr(nlh, sizeof(nfgenmsg), [&](const nlattr* a) { types.insert(mnl_attr_get_type(a)); });
    return types;
}

} // namespace

TEST_SUITE("conntrack_parse") {
    TEST_CASE("events the kernel sent: udp, tcp, icmp, new and destroy, with both tuples") {
        auto parser = make_parser();
        int parsed = 0;
        for (const char* name : {"ct_new_udp", "ct_new_tcp", "ct_new_icmp", "ct_destroy_udp", "ct_destroy_tcp",
                                 "ct_destroy_icmp"}) {
            CAPTURE(name);
            const std::string n = name;
            const Proto want = n.find("udp") != n.npos ? Proto::Udp : n.find("tcp") != n.npos ? Proto::Tcp : Proto::Icmp;
            for (const auto& m : seed_messages(name)) {
                const auto ev = parser.parse(header(m));
                REQUIRE(ev);
                CHECK(ev->type == (n.find("new") != n.npos ? io::FlowEvent::New : io::FlowEvent::Destroy));
                CHECK(ev->orig.proto == want);
                CHECK(ev->reply.proto == want);
                CHECK(ev->orig.src.addr != 0);
                // Not NATed (the capture's own flows): the reply mirrors the original.
                CHECK(ev->reply.src == ev->orig.dst);
                CHECK(ev->reply.dst == ev->orig.src);
                if (want == Proto::Icmp)
                    CHECK(ev->orig.src.port == ev->orig.dst.port);
                ++parsed;
            }
        }
        CHECK(parsed >= 6);
    }

    TEST_CASE("the reply tuple's ICMP identifier: carried by the message, not given by the library") {
        CtMessage m = CtMessage::echo(0x1111, 0x2222);
        // The library alone: ATTR_ICMP_ID is the original's, and no attribute holds the reply's.
        io::detail::NfctObject ct(nfct_new());
        REQUIRE(ct);
        REQUIRE(nfct_nlmsg_parse(m.nlh, ct.get()) == 0);
        CHECK(ntohs(nfct_get_attr_u16(ct.get(), ATTR_ICMP_ID)) == 0x1111);
        CHECK_FALSE(nfct_attr_is_set(ct.get(), ATTR_REPL_PORT_SRC));
        CHECK_FALSE(nfct_attr_is_set(ct.get(), ATTR_REPL_PORT_DST));
        // The parser reads that one field by hand.
        auto parser = make_parser();
        const auto ev = parser.parse(m.nlh);
        REQUIRE(ev);
        CHECK(ev->orig.src == Endpoint{core::make_ipv4(10, 0, 0, 2), 0x1111});
        CHECK(ev->orig.dst == Endpoint{core::make_ipv4(192, 0, 2, 2), 0x1111});
        CHECK(ev->reply.src == Endpoint{core::make_ipv4(192, 0, 2, 2), 0x2222});
        CHECK(ev->reply.dst == Endpoint{core::make_ipv4(203, 0, 113, 1), 0x2222});
        CHECK(ev->status == (IPS_SRC_NAT | IPS_CONFIRMED));
    }

    TEST_CASE("the object is reused: nothing of one message stays for the next") {
        auto parser = make_parser();
        CtMessage with_status = CtMessage::echo(7, 7);
        REQUIRE(parser.parse(with_status.nlh)->status != 0);
        CtMessage udp = CtMessage::udp(); // no CTA_STATUS
        const auto ev = parser.parse(udp.nlh);
        REQUIRE(ev);
        CHECK(ev->status == 0);
        CHECK(ev->orig.src == Endpoint{core::make_ipv4(10, 0, 0, 2), 5000});
        CHECK(ev->reply.dst == Endpoint{core::make_ipv4(203, 0, 113, 1), 40000});
        CHECK_FALSE(nfct_attr_is_set(&parser.entry(), ATTR_ICMP_ID));
    }

    TEST_CASE("what is not an IPv4 udp/tcp/icmp entry with both tuples is no event") {
        auto parser = make_parser();
        SUBCASE("another family") {
            CtMessage m(IPCTNL_MSG_CT_NEW, AF_INET6);
            m.tuple(CTA_TUPLE_ORIG, IPPROTO_UDP, 1, 2, 3, 4);
            m.tuple(CTA_TUPLE_REPLY, IPPROTO_UDP, 2, 1, 4, 3);
            CHECK_FALSE(parser.parse(m.nlh));
        }
        SUBCASE("another protocol") {
            CtMessage m;
            m.tuple(CTA_TUPLE_ORIG, IPPROTO_SCTP, 1, 2, 3, 4);
            m.tuple(CTA_TUPLE_REPLY, IPPROTO_SCTP, 2, 1, 4, 3);
            CHECK_FALSE(parser.parse(m.nlh));
        }
        SUBCASE("no reply tuple") {
            CtMessage m;
            m.tuple(CTA_TUPLE_ORIG, IPPROTO_UDP, 1, 2, 3, 4);
            CHECK_FALSE(parser.parse(m.nlh));
        }
        SUBCASE("another message type") {
            CtMessage m(IPCTNL_MSG_CT_GET_STATS);
            CHECK_FALSE(parser.parse(m.nlh));
        }
        SUBCASE("only a header") {
            CtMessage m;
            m.nlh->nlmsg_len = NLMSG_HDRLEN + 2;
            CHECK_FALSE(parser.parse(m.nlh));
        }
    }

    TEST_CASE("hostile attributes the library would exit on are refused; those we do not read are dropped") {
        auto parser = make_parser();
        SUBCASE("an address of 2 bytes inside the reply tuple") {
            CtMessage m;
            m.tuple(CTA_TUPLE_ORIG, IPPROTO_UDP, 1, 2, 3, 4);
            nlattr* t = mnl_attr_nest_start(m.nlh, CTA_TUPLE_REPLY);
            nlattr* ip = mnl_attr_nest_start(m.nlh, CTA_TUPLE_IP);
            mnl_attr_put_u16(m.nlh, CTA_IP_V4_SRC, 1);
            mnl_attr_nest_end(m.nlh, ip);
            mnl_attr_nest_end(m.nlh, t);
            CHECK_FALSE(parser.parse(m.nlh));
        }
        SUBCASE("a protocol number of 4 bytes") {
            CtMessage m = CtMessage::udp();
            nlattr* t = mnl_attr_nest_start(m.nlh, CTA_TUPLE_ORIG);
            nlattr* p = mnl_attr_nest_start(m.nlh, CTA_TUPLE_PROTO);
            mnl_attr_put_u32(m.nlh, CTA_PROTO_NUM, IPPROTO_UDP);
            mnl_attr_nest_end(m.nlh, p);
            mnl_attr_nest_end(m.nlh, t);
            CHECK_FALSE(parser.parse(m.nlh));
        }
        SUBCASE("a status of 2 bytes") {
            CtMessage m = CtMessage::udp();
            mnl_attr_put_u16(m.nlh, CTA_STATUS, 1);
            CHECK_FALSE(parser.parse(m.nlh));
        }
        SUBCASE("a tuple that is not nested") {
            CtMessage m = CtMessage::udp();
            mnl_attr_put_u8(m.nlh, CTA_TUPLE_ORIG, 1);
            CHECK_FALSE(parser.parse(m.nlh));
        }
        SUBCASE("malformed attributes we do not read (helper, labels, counters), and a helper with its info") {
            CtMessage m = CtMessage::udp();
            mnl_attr_put_u8(m.nlh, CTA_HELP, 1);        // the library wants a nest
            mnl_attr_put_u8(m.nlh, CTA_COUNTERS_ORIG, 1); // the same
            mnl_attr_put_u16(m.nlh, CTA_TIMEOUT, 1);    // it wants a u32
            mnl_attr_put_u32(m.nlh, CTA_LABELS, 1);     // the library allocates a bitmask for it
            nlattr* help = mnl_attr_nest_start(m.nlh, CTA_HELP);
            mnl_attr_put_strz(m.nlh, CTA_HELP_NAME, "ftp");
            mnl_attr_put_u32(m.nlh, CTA_HELP_INFO, 1); // and a buffer for this
            mnl_attr_nest_end(m.nlh, help);
            const auto ev = parser.parse(m.nlh);
            REQUIRE(ev);
            CHECK(ev->orig.src.port == 5000);
            CHECK_FALSE(nfct_attr_is_set(&parser.entry(), ATTR_HELPER_NAME));
            CHECK_FALSE(nfct_attr_is_set(&parser.entry(), ATTR_CONNLABELS));
        }
        SUBCASE("kept attributes larger than the copy") {
            CtMessage m = CtMessage::udp();
            for (int i = 0; i < 200; ++i)
                mnl_attr_put_u32(m.nlh, CTA_ID, 1);
            CHECK(m.nlh->nlmsg_len > io::detail::FlowParser::kMaxKept);
            CHECK_FALSE(parser.parse(m.nlh));
        }
        // The positive control: the same parser still reads a good message afterwards.
        CtMessage good = CtMessage::udp();
        CHECK(parser.parse(good.nlh));
    }

    TEST_CASE("a dumped entry's delete: its original tuple, zone and id as they came, no reply tuple") {
        auto parser = make_parser();
        int entries = 0;
        for (const auto& m : seed_messages("ct_dump_reply")) {
            const auto ev = parser.parse(header(m));
            REQUIRE(ev);
            const std::uint32_t id = nfct_get_attr_u32(&parser.entry(), ATTR_ID);
            REQUIRE(nfct_attr_is_set(&parser.entry(), ATTR_ID));
            const auto key = io::detail::delete_key(parser.entry());
            REQUIRE(key);
            CtMessage del(IPCTNL_MSG_CT_DELETE);
            REQUIRE(io::detail::build_delete(del.nlh, *key));
            const auto types = top_types(del.nlh);
            CHECK(types.count(CTA_TUPLE_ORIG) == 1);
            CHECK(types.count(CTA_ID) == 1);
            CHECK(types.count(CTA_TUPLE_REPLY) == 0);
            CHECK(types.count(CTA_STATUS) == 0);
            // Read back with the library: the same original tuple and id.
            io::detail::NfctObject back(nfct_new());
            REQUIRE(nfct_nlmsg_parse(del.nlh, back.get()) == 0);
            CHECK(nfct_cmp(back.get(), &parser.entry(), NFCT_CMP_ORIG) == 1);
            CHECK(nfct_get_attr_u32(back.get(), ATTR_ID) == id);
            ++entries;
        }
        CHECK(entries == 3);
    }

    TEST_CASE("an echo's delete carries the ICMP type, code and identifier the kernel needs to find it") {
        auto parser = make_parser();
        CtMessage m = CtMessage::echo(0x1234, 0x4321);
        mnl_attr_put_u32(m.nlh, CTA_ID, htonl(77));
        REQUIRE(parser.parse(m.nlh));
        const auto key = io::detail::delete_key(parser.entry());
        REQUIRE(key);
        CtMessage del(IPCTNL_MSG_CT_DELETE);
        REQUIRE(io::detail::build_delete(del.nlh, *key));
        io::detail::NfctObject back(nfct_new());
        REQUIRE(nfct_nlmsg_parse(del.nlh, back.get()) == 0);
        CHECK(nfct_get_attr_u8(back.get(), ATTR_ICMP_TYPE) == 8);
        CHECK(nfct_get_attr_u8(back.get(), ATTR_ICMP_CODE) == 0);
        CHECK(ntohs(nfct_get_attr_u16(back.get(), ATTR_ICMP_ID)) == 0x1234);
        CHECK(nfct_get_attr_u32(back.get(), ATTR_ID) == 77);
        CHECK_FALSE(nfct_attr_is_set(back.get(), ATTR_REPL_IPV4_DST));
    }
}
