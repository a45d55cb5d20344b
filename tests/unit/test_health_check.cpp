// The daemon side of `conenatctl check` on made-up views of the system: the findings it gives
// for a healthy router and for each kind of breakage; the nfnetlink_queue proc parser.
#include "conenat/engine/engine.hpp"
#include "engine/common/health_check.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace conenat;
using namespace conenat::engine;

namespace {

EngineConfig config() {
    EngineConfig o;
    o.external_if = "wan0";
    o.internal = {{core::make_ipv4(10, 0, 0, 0), 24}};
    o.nat.pool.external_addrs = {core::make_ipv4(198, 51, 100, 254)};
    return o;
}

// The kernel's view of a router where the engine's table is installed as described.
SystemView healthy(const EngineConfig& o, const io::nft::RuleSet& rs) {
    SystemView v;
    for (const io::nft::Chain& c : rs.chains) {
        io::NftChainView cv{"ip", o.table, c.name, bool(c.base), "", "", 0};
        if (c.base) {
            cv.type = c.base->type;
            cv.hook = c.base->hook == io::nft::Hook::Prerouting    ? "prerouting"
                      : c.base->hook == io::nft::Hook::Postrouting ? "postrouting"
                      : c.base->hook == io::nft::Hook::Input       ? "input"
                                                                   : "output";
            cv.priority = c.base->priority;
        }
        v.ruleset.chains.push_back(cv);
        std::uint64_t handle = 1;
        for (const io::nft::Rule& r : c.rules) {
            io::NftRuleView rv{"ip", o.table, c.name, handle++};
            for (const io::nft::Term& t : r)
                if (t.text.rfind("queue num ", 0) == 0) rv.queues.push_back(std::uint16_t(std::stoi(t.text.substr(10))));
            v.ruleset.rules.push_back(rv);
        }
    }
    for (const io::nft::Set& s : rs.sets) v.ruleset.sets.push_back({"ip", o.table, s.name});
    v.ruleset_later = v.ruleset;
    v.bindings = io::parse_queue_bindings("    0   4136     0 2 65535     0     0        5  1\n"
                                          "    1 3745613844 0 2 65535    0     0        0  1\n");
    v.bindings_later = v.bindings;
    v.ip_forward = "1\n";
    v.wan_addresses = std::vector<core::Ipv4>{core::make_ipv4(198, 51, 100, 254)};
    return v;
}

std::size_t problems(const std::vector<Finding>& f) {
    return std::size_t(std::count_if(f.begin(), f.end(), [](const Finding& x) { return x.level == Finding::Level::Problem; }));
}
bool says(const std::vector<Finding>& f, Finding::Level level, const std::string& part) {
    return std::any_of(f.begin(), f.end(), [&](const Finding& x) { return x.level == level && x.text.find(part) != std::string::npos; });
}

} // namespace

TEST_SUITE("health check") {

TEST_CASE("nfnetlink_queue lines") {
    const auto b = io::parse_queue_bindings("    3   77     2 2 65535     4     5        9  1\ngarbage\n70000 1 0 2 0 0 0 0 1\n");
    REQUIRE(b.size() == 1);
    CHECK(b[0].queue == 3);
    CHECK(b[0].portid == 77);
    CHECK(b[0].waiting == 2);
    CHECK(b[0].queue_dropped == 4);
    CHECK(b[0].user_dropped == 5);
    CHECK(b[0].id_sequence == 9);
}

TEST_CASE("a healthy conntrack-engine router: everything OK") {
    const EngineConfig o = config();
    const io::nft::RuleSet rs = rule_set(o);
    const auto f = check_view(o, rs, healthy(o, rs));
    CHECK(problems(f) == 0);
    CHECK(says(f, Finding::Level::Ok, "table ip conenatd"));
    CHECK(says(f, Finding::Level::Ok, "NFQUEUE 0 (first packets of new outbound flows)"));
    CHECK(says(f, Finding::Level::Ok, "NFQUEUE 1 (first packets of new inbound flows)"));
    CHECK(says(f, Finding::Level::Ok, "no other NAT rule"));
}

TEST_CASE("each breakage is named") {
    const EngineConfig o = config();
    const io::nft::RuleSet rs = rule_set(o);
    SUBCASE("the table is gone") {
        SystemView v = healthy(o, rs);
        v.ruleset = v.ruleset_later = {};
        CHECK(says(check_view(o, rs, v), Finding::Level::Problem, "table ip conenatd is missing"));
    }
    SUBCASE("a chain is gone") {
        SystemView v = healthy(o, rs);
        std::erase_if(v.ruleset.chains, [](const auto& c) { return c.name == "snat_map"; });
        CHECK(says(check_view(o, rs, v), Finding::Level::Problem, "lacks chain snat_map"));
    }
    SUBCASE("the outbound queue rules are gone") {
        SystemView v = healthy(o, rs);
        std::erase_if(v.ruleset.rules, [](const auto& r) { return r.chain == "snat_queue"; });
        CHECK(says(check_view(o, rs, v), Finding::Level::Problem, "NFQUEUE 0 (first packets of new outbound flows): no rule sends"));
    }
    SUBCASE("iptables feeds the queue instead: fine") {
        SystemView v = healthy(o, rs);
        std::erase_if(v.ruleset.rules, [](const auto& r) { return r.chain == "snat_queue"; });
        io::NftRuleView ipt{"ip", "nat", "POSTROUTING", 9};
        ipt.queues = {0};
        v.ruleset.rules.push_back(ipt);
        const auto f = check_view(o, rs, v);
        CHECK(problems(f) == 0);
        CHECK(says(f, Finding::Level::Ok, "fed by table ip nat chain POSTROUTING"));
    }
    SUBCASE("nobody listens, or the queue drops") {
        SystemView v = healthy(o, rs);
        v.bindings_later[1].user_dropped = 3;
        v.bindings.erase(v.bindings.begin());
        const auto f = check_view(o, rs, v);
        CHECK(says(f, Finding::Level::Problem, "NFQUEUE 0 (first packets of new outbound flows): nobody listens"));
        CHECK(says(f, Finding::Level::Problem, "NFQUEUE 1 (first packets of new inbound flows): 3 packets dropped"));
    }
    SUBCASE("forwarding off, WAN without address") {
        SystemView v = healthy(o, rs);
        v.ip_forward = "0\n";
        v.wan_addresses = std::vector<core::Ipv4>{};
        const auto f = check_view(o, rs, v);
        CHECK(says(f, Finding::Level::Problem, "IPv4 forwarding is off"));
        CHECK(says(f, Finding::Level::Problem, "wan0 has no IPv4 address"));
    }
    SUBCASE("a masquerade before ours, on our WAN or on any interface; another WAN's is fine") {
        SystemView v = healthy(o, rs);
        v.ruleset.chains.push_back({"inet", "fw", "srcnat", true, "nat", "postrouting", 90});
        v.ruleset.chains.push_back({"inet", "fw", "srcnat_wan", false, "", "", 0});
        io::NftRuleView jump{"inet", "fw", "srcnat", 1};
        jump.jumps = {"srcnat_wan"};
        io::NftRuleView other{"inet", "fw", "srcnat_wan", 2};
        other.source_nat = true, other.nat_text = "masquerade", other.oifname = "wan1";
        v.ruleset.rules.push_back(jump);
        v.ruleset.rules.push_back(other);
        CHECK(problems(check_view(o, rs, v)) == 0);
        io::NftRuleView masq{"inet", "fw", "srcnat_wan", 3};
        masq.source_nat = true, masq.nat_text = "masquerade";
        v.ruleset.rules.push_back(masq);
        const auto f = check_view(o, rs, v);
        CHECK(problems(f) == 1);
        CHECK(says(f, Finding::Level::Problem, "table inet fw chain srcnat (through chain srcnat_wan) (postrouting priority 90, before conenatd's 98) has a masquerade rule (handle 3)"));
    }
    SUBCASE("iptables' MASQUERADE at srcnat runs after ours: fine") {
        SystemView v = healthy(o, rs);
        v.ruleset.chains.push_back({"ip", "nat", "POSTROUTING", true, "nat", "postrouting", 100});
        io::NftRuleView masq{"ip", "nat", "POSTROUTING", 3};
        masq.source_nat = true, masq.nat_text = "xt MASQUERADE";
        v.ruleset.rules.push_back(masq);
        CHECK(problems(check_view(o, rs, v)) == 0);
    }
}

}
