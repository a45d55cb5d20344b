// The parsers of the router's watch on messages the kernel sent (tests/fuzz/capture_seeds.sh
// captured them: `ip addr`, `ip link`, `nft` changes as the monitors receive them), and on
// hostile variants of them.
#include "io/netlink.hpp"
#include "io/nft_event_parse.hpp"
#include "io/rtnetlink_parse.hpp"

#include "conenat/core/types.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

using namespace conenat;
using io::InterfaceEvent;
using io::NftEvent;

namespace {

// A captured datagram, 4-byte aligned as in the kernel's buffers.
struct Datagram {
    std::vector<std::uint32_t> words;
    std::size_t size = 0;
    const void* data() const { return words.data(); }
    std::uint8_t* bytes() { return reinterpret_cast<std::uint8_t*>(words.data()); }
};

Datagram seed(const std::string& target, const std::string& name) {
    std::string dir = __FILE__;
    dir = dir.substr(0, dir.rfind('/') + 1) + "../fuzz/seeds/";
    std::ifstream in(dir + target + "/" + name + ".bin", std::ios::binary);
    REQUIRE_MESSAGE(in, "seed " << target << "/" << name << " missing");
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Datagram d;
    d.size = bytes.size();
    d.words.resize((bytes.size() + 3) / 4 + 1);
    std::memcpy(d.words.data(), bytes.data(), bytes.size());
    return d;
}

std::vector<NftEvent> nft_events(const Datagram& d) {
    std::vector<NftEvent> out;
    io::detail::for_each_message(d.data(), d.size, [&](const nlmsghdr* nlh) {
        if (auto ev = io::detail::parse_nft_event(nlh))
            out.push_back(*ev);
    });
    return out;
}

std::vector<InterfaceEvent> interface_events(const Datagram& d) {
    std::vector<InterfaceEvent> out;
    io::detail::for_each_message(d.data(), d.size, [&](const nlmsghdr* nlh) {
        if (auto ev = io::detail::parse_interface_event(nlh))
            out.push_back(*ev);
    });
    return out;
}

} // namespace

TEST_SUITE("netlink_events") {
    TEST_CASE("nft delete table: every object of the table, deleted, by nft's port; then its generation") {
        const auto events = nft_events(seed("fuzz_nft_events", "del_table"));
        REQUIRE(events.size() == 4);
        std::set<NftEvent::Object> objects;
        for (const NftEvent& e : events) {
            CHECK(e.deleted);
            CHECK(e.family == io::kNftFamilyIp);
            CHECK(e.table == "fzwatch");
            CHECK(e.portid != 0);
            CHECK(e.portid == events.front().portid);
            objects.insert(e.object);
        }
        CHECK(objects == std::set{NftEvent::Object::Table, NftEvent::Object::Chain, NftEvent::Object::Rule,
                                  NftEvent::Object::Set});
        const auto gen = nft_events(seed("fuzz_nft_events", "del_table_1"));
        REQUIRE(gen.size() == 1);
        CHECK(gen[0].object == NftEvent::Object::Generation);
        CHECK_FALSE(gen[0].deleted);
        CHECK(gen[0].portid == events.front().portid);
        CHECK(gen[0].proc_name == "nft");
        CHECK(gen[0].proc_pid != 0);
        CHECK(gen[0].table.empty());
    }

    TEST_CASE("nft building a table and changing its elements: new objects, element deletions") {
        const auto built = nft_events(seed("fuzz_nft_events", "new_table"));
        REQUIRE(built.size() == 4);
        for (const NftEvent& e : built) {
            CHECK_FALSE(e.deleted);
            CHECK(e.table == "fzwatch");
        }
        CHECK(built[0].object == NftEvent::Object::Table);
        const auto added = nft_events(seed("fuzz_nft_events", "new_element"));
        REQUIRE(added.size() == 1);
        CHECK(added[0].object == NftEvent::Object::SetElement);
        CHECK_FALSE(added[0].deleted);
        const auto removed = nft_events(seed("fuzz_nft_events", "del_element"));
        REQUIRE(removed.size() == 1);
        CHECK(removed[0].object == NftEvent::Object::SetElement);
        CHECK(removed[0].deleted);
        CHECK(removed[0].table == "fzwatch");
    }

    TEST_CASE("nft flush ruleset: every table deleted in one datagram") {
        const auto events = nft_events(seed("fuzz_nft_events", "flush_ruleset"));
        std::set<std::string> tables;
        for (const NftEvent& e : events) {
            CHECK(e.deleted);
            if (e.object == NftEvent::Object::Table)
                tables.insert(e.table);
        }
        CHECK(tables.count("fzwatch") == 1);
        CHECK(tables.count("fzcap") == 1);
    }

    TEST_CASE("hostile nft notifications: cut short, a name without its NUL, another subsystem") {
        Datagram d = seed("fuzz_nft_events", "del_table");
        auto* nlh = reinterpret_cast<nlmsghdr*>(d.bytes());
        const std::uint32_t len = nlh->nlmsg_len;
        // Only the netlink header and part of nfgenmsg: no event.
        nlh->nlmsg_len = NLMSG_HDRLEN + 2;
        CHECK_FALSE(io::detail::parse_nft_event(nlh).has_value());
        // The first attribute (the table name) cut to its first 3 bytes, no NUL: the name is
        // what lies inside the attribute.
        nlh->nlmsg_len = len;
        auto* attr = reinterpret_cast<nlattr*>(d.bytes() + NLMSG_HDRLEN + 4);
        REQUIRE((attr->nla_type & NLA_TYPE_MASK) == 1);
        attr->nla_len = 4 + 3;
        auto ev = io::detail::parse_nft_event(nlh);
        REQUIRE(ev.has_value());
        CHECK(ev->table == "fzw");
        // An attribute longer than the message: the walk stops, no name.
        attr->nla_len = 0xfff0;
        ev = io::detail::parse_nft_event(nlh);
        REQUIRE(ev.has_value());
        CHECK(ev->table.empty());
        // The conntrack subsystem's message of the same number is not an nf_tables event.
        nlh->nlmsg_type = std::uint16_t((1 << 8) | (nlh->nlmsg_type & 0xff));
        CHECK_FALSE(io::detail::parse_nft_event(nlh).has_value());
    }

    TEST_CASE("address events: added, removed, and the local end of a point-to-point address") {
        const auto added = interface_events(seed("fuzz_rtnetlink", "ev_addr_add"));
        REQUIRE(added.size() == 1);
        CHECK(added[0].kind == InterfaceEvent::Kind::AddressAdded);
        CHECK(added[0].address == core::make_ipv4(198, 51, 100, 9));
        CHECK(added[0].ifindex != 0);
        const auto removed = interface_events(seed("fuzz_rtnetlink", "ev_addr_del"));
        REQUIRE(removed.size() == 1);
        CHECK(removed[0].kind == InterfaceEvent::Kind::AddressRemoved);
        CHECK(removed[0].address == core::make_ipv4(198, 51, 100, 9));
        // `ip addr add 100.64.0.9 peer 100.64.0.1` (PPPoE's shape): ours is IFA_LOCAL.
        const auto peer = interface_events(seed("fuzz_rtnetlink", "ev_peer_add"));
        REQUIRE(peer.size() == 1);
        CHECK(peer[0].address == core::make_ipv4(100, 64, 0, 9));
    }

    TEST_CASE("link events: a veth pair created, deleted; an address dump answers as address events") {
        std::set<unsigned> created, deleted;
        for (const char* name : {"ev_link_new", "ev_link_new_1"}) {
            const auto events = interface_events(seed("fuzz_rtnetlink", name));
            REQUIRE(events.size() == 1);
            CHECK(events[0].kind == InterfaceEvent::Kind::LinkChanged);
            created.insert(events[0].ifindex);
        }
        for (const char* name : {"ev_link_del", "ev_link_del_1"}) {
            const auto events = interface_events(seed("fuzz_rtnetlink", name));
            REQUIRE(events.size() == 1);
            CHECK(events[0].kind == InterfaceEvent::Kind::LinkRemoved);
            deleted.insert(events[0].ifindex);
        }
        CHECK(created.size() == 2);
        CHECK(deleted == created);
        const auto dump = interface_events(seed("fuzz_rtnetlink", "addr_dump"));
        CHECK_FALSE(dump.empty());
        for (const InterfaceEvent& e : dump)
            CHECK(e.kind == InterfaceEvent::Kind::AddressAdded);
        // Rule and route answers say nothing about interfaces.
        CHECK(interface_events(seed("fuzz_rtnetlink", "rule_dump")).empty());
        CHECK(interface_events(seed("fuzz_rtnetlink", "route_dump")).empty());
    }

    TEST_CASE("a hostile address event: an address attribute too short, none at all") {
        Datagram d = seed("fuzz_rtnetlink", "ev_addr_add");
        auto* nlh = reinterpret_cast<nlmsghdr*>(d.bytes());
        REQUIRE(io::detail::parse_address(nlh).has_value());
        nlh->nlmsg_len = NLMSG_HDRLEN + 8; // the ifaddrmsg only
        CHECK_FALSE(io::detail::parse_address(nlh).has_value());
        nlh->nlmsg_len = NLMSG_HDRLEN + 4; // not even that
        CHECK_FALSE(io::detail::parse_interface_event(nlh).has_value());
    }
}
