// Rtnetlink and the sysctl helpers against the real kernel, inside the router namespace of
// tests/e2e/io_adapters.sh. Each case makes its own veth pair (cnv0/cnv1) and puts back every
// rule it changes, also when a check fails (guards).
#include "conenat/io/rtnetlink.hpp"
#include "conenat/io/sysctl.hpp"
#include "tests/io/netns_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace conenat;
using namespace iotest;
using io::PolicyRule;
using io::Rtnetlink;

namespace {

io::Rtnetlink open_rt() {
    auto rt = Rtnetlink::open();
    REQUIRE_MESSAGE(rt.ok(), rt.error());
    return std::move(rt.value());
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.rfind(prefix, 0) == 0;
}

// A veth pair cnv0/cnv1 (down, MTU 1400) for the length of a test case.
struct Veth {
    Veth() {
        std::string out;
        REQUIRE_MESSAGE(sh("ip link add cnv0 mtu 1400 type veth peer name cnv1 mtu 1400", &out) == 0, out);
    }
    ~Veth() { sh("ip link del cnv0"); }
};

// `ip -o link show dev NAME`: "7: cnv0@cnv1: <BROADCAST,...,UP,LOWER_UP> mtu 1400 ...".
struct IpLink {
    unsigned index = 0, mtu = 0;
    std::string flags;
};
IpLink ip_link(const std::string& dev) {
    const std::string out = sh_out("ip -o link show dev " + dev);
    IpLink l;
    l.index = static_cast<unsigned>(std::stoul(out));
    const auto lt = out.find('<'), gt = out.find('>');
    REQUIRE(gt != std::string::npos);
    l.flags = "," + out.substr(lt + 1, gt - lt - 1) + ",";
    const auto m = out.find(" mtu ");
    REQUIRE(m != std::string::npos);
    l.mtu = static_cast<unsigned>(std::stoul(out.substr(m + 5)));
    return l;
}

std::vector<Rtnetlink::ListedRule> list_rules(Rtnetlink& rt) {
    auto rules = rt.rules();
    REQUIRE_MESSAGE(rules.ok(), rules.error());
    return std::move(rules.value());
}

// The listed rule at `pref` for `table`, if any.
const Rtnetlink::ListedRule* find_rule(const std::vector<Rtnetlink::ListedRule>& rules, std::uint32_t pref,
                                       std::uint32_t table) {
    for (const auto& r : rules)
        if (r.rule.pref == pref && r.rule.table == table)
            return &r;
    return nullptr;
}

// Deletes the test's rules by hand at scope exit (no-ops when they are gone already).
struct RuleCleanup {
    std::vector<std::string> deletions; // `ip rule del` arguments
    ~RuleCleanup() {
        for (const auto& d : deletions)
            sh("while ip rule del " + d + " 2>/dev/null; do :; done");
    }
};

// Puts the local table's rule back at priority 0 and removes the moved one.
struct LocalRuleRestore {
    ~LocalRuleRestore() {
        sh("ip rule show pref 0 | grep -q 'lookup local' || ip rule add pref 0 lookup local");
        sh("ip rule del pref 100 lookup local");
    }
};

void require_ok(const Status& st) {
    REQUIRE_MESSAGE(st.ok(), st.error());
}

} // namespace

TEST_SUITE("rtnetlink") {

TEST_CASE("ifindex and mtu of lo and of a veth agree with ip link; a missing link is named") {
    IOTEST_REQUIRE_NETNS();
    Veth veth;
    auto rt = open_rt();
    auto lo = rt.ifindex("lo");
    REQUIRE_MESSAGE(lo.ok(), lo.error());
    CHECK(*lo == 1);
    CHECK(*lo == ip_link("lo").index);
    auto lo_mtu = rt.mtu("lo");
    REQUIRE(lo_mtu.ok());
    CHECK(*lo_mtu == ip_link("lo").mtu);

    auto idx = rt.ifindex("cnv0");
    REQUIRE_MESSAGE(idx.ok(), idx.error());
    CHECK(*idx == ip_link("cnv0").index);
    CHECK(*idx != ip_link("cnv1").index);
    auto mtu = rt.mtu("cnv0");
    REQUIRE(mtu.ok());
    CHECK(*mtu == 1400);

    auto missing = rt.ifindex("cnnosuch0");
    REQUIRE(!missing.ok());
    CHECK_MESSAGE(starts_with(missing.error(), "link cnnosuch0: No such device"), missing.error());
    auto missing_mtu = rt.mtu("cnnosuch0");
    REQUIRE(!missing_mtu.ok());
    CHECK(contains(missing_mtu.error(), "cnnosuch0"));
    auto too_long = rt.ifindex("a_name_far_too_long_for_linux");
    REQUIRE(!too_long.ok());
    CHECK(contains(too_long.error(), "a_name_far_too_long_for_linux"));
}

TEST_CASE("set_link: up, down and the MTU, as ip link sees them") {
    IOTEST_REQUIRE_NETNS();
    Veth veth;
    auto rt = open_rt();
    CHECK(!contains(ip_link("cnv0").flags, ",UP,"));

    require_ok(rt.set_link("cnv0", true, 1300, 2345));
    IpLink l = ip_link("cnv0");
    CHECK(sh_out("ip -o link show dev cnv0").find("qlen 2345") != std::string::npos);
    CHECK_MESSAGE(contains(l.flags, ",UP,"), l.flags);
    CHECK(l.mtu == 1300);
    CHECK(ip_link("cnv1").mtu == 1400); // only the named end

    require_ok(rt.set_link("cnv0", false));
    l = ip_link("cnv0");
    CHECK_MESSAGE(!contains(l.flags, ",UP,"), l.flags);
    CHECK(l.mtu == 1300); // mtu 0: unchanged

    require_ok(rt.set_link("cnv0", true));
    CHECK(contains(ip_link("cnv0").flags, ",UP,"));

    auto missing = rt.set_link("cnnosuch0", true, 1300);
    REQUIRE(!missing.ok());
    CHECK_MESSAGE(starts_with(missing.error(), "set link cnnosuch0 up mtu 1300: No such device"), missing.error());
    CHECK(sh("ip link show dev cnnosuch0") != 0); // not created either
    auto bad_mtu = rt.set_link("cnv0", true, 100000);
    REQUIRE(!bad_mtu.ok());
    CHECK_MESSAGE(starts_with(bad_mtu.error(), "set link cnv0 up mtu 100000: "), bad_mtu.error());
    CHECK(ip_link("cnv0").mtu == 1300);
}

TEST_CASE("add_rule, rules and delete_rule round trip, as ip rule sees them") {
    IOTEST_REQUIRE_NETNS();
    RuleCleanup cleanup{{"pref 50 fwmark 0x100000/0x100000 lookup 100", "pref 51 lookup 70000",
                         "pref 60 from 10.1.0.0/16 lookup 101", "pref 61 fwmark 0x5 lookup 102",
                         "pref 62 blackhole", "pref 63 not fwmark 0x7/0xff lookup 103",
                         "pref 64 iif lo lookup 104"}};
    auto rt = open_rt();

    // The namespace's default rules.
    auto rules = list_rules(rt);
    for (auto [pref, table] : {std::pair{0u, io::kLocalTable}, {32766u, io::kMainTable}, {32767u, 253u}}) {
        const auto* r = find_rule(rules, pref, table);
        REQUIRE_MESSAGE(r, "pref ", pref);
        CHECK(r->rule.fwmark == 0);
        CHECK(r->rule.fwmask == 0);
        CHECK(!r->other_selectors);
    }
    CHECK(std::is_sorted(rules.begin(), rules.end(),
                         [](const auto& a, const auto& b) { return a.rule.pref < b.rule.pref; }));

    const PolicyRule marked{50, 100, 0x100000, 0x100000};
    require_ok(rt.add_rule(marked));
    CHECK_MESSAGE(contains(sh_out("ip rule show"), "50:\tfrom all fwmark 0x100000/0x100000 lookup 100"),
                  sh_out("ip rule show"));
    rules = list_rules(rt);
    const auto* listed = find_rule(rules, 50, 100);
    REQUIRE(listed);
    CHECK(listed->rule == marked);
    CHECK(!listed->other_selectors);

    auto twice = rt.add_rule(marked);
    REQUIRE(!twice.ok());
    CHECK_MESSAGE(starts_with(twice.error(), "add rule pref 50 fwmark 0x100000/0x100000 lookup 100: File exists"),
                  twice.error());
    CHECK(std::count_if(rules.begin(), rules.end(), [](const auto& r) { return r.rule.pref == 50; }) == 1);

    // A table beyond the 8-bit header field goes in FRA_TABLE only.
    const PolicyRule big_table{51, 70000, 0, 0};
    require_ok(rt.add_rule(big_table));
    CHECK(contains(sh_out("ip rule show"), "51:\tfrom all lookup 70000"));
    rules = list_rules(rt);
    REQUIRE(find_rule(rules, 51, 70000));
    CHECK(find_rule(rules, 51, 70000)->rule == big_table);

    require_ok(rt.delete_rule(marked));
    CHECK(!contains(sh_out("ip rule show"), "fwmark 0x100000/0x100000"));
    CHECK(!find_rule(list_rules(rt), 50, 100));
    auto gone = rt.delete_rule(marked);
    REQUIRE(!gone.ok());
    CHECK_MESSAGE(starts_with(gone.error(), "delete rule pref 50 fwmark 0x100000/0x100000 lookup 100: "), gone.error());
    require_ok(rt.delete_rule(big_table));
    CHECK(!contains(sh_out("ip rule show"), "lookup 70000"));

    // Rules written by others: what PolicyRule cannot say is flagged, never dropped.
    REQUIRE(sh("ip rule add pref 60 from 10.1.0.0/16 lookup 101") == 0);
    REQUIRE(sh("ip rule add pref 61 fwmark 0x5 lookup 102") == 0);
    REQUIRE(sh("ip rule add pref 62 blackhole") == 0);
    REQUIRE(sh("ip rule add pref 63 not fwmark 0x7/0xff lookup 103") == 0);
    REQUIRE(sh("ip rule add pref 64 iif lo lookup 104") == 0);
    rules = list_rules(rt);
    const auto* from = find_rule(rules, 60, 101);
    REQUIRE(from);
    CHECK(from->other_selectors);
    const auto* mark_only = find_rule(rules, 61, 102);
    REQUIRE(mark_only);
    CHECK(!mark_only->other_selectors);
    CHECK(mark_only->rule.fwmark == 0x5);
    CHECK(mark_only->rule.fwmask == 0xffffffff); // ip's (and the kernel's) default mask
    const auto blackhole = std::find_if(rules.begin(), rules.end(), [](const auto& r) { return r.rule.pref == 62; });
    REQUIRE(blackhole != rules.end());
    CHECK(blackhole->other_selectors);
    const auto* inverted = find_rule(rules, 63, 103);
    REQUIRE(inverted);
    CHECK(inverted->other_selectors);
    const auto* iif = find_rule(rules, 64, 104);
    REQUIRE(iif);
    CHECK(iif->other_selectors);
}

TEST_CASE("the local table's rule moves from priority 0 to 100 and back") {
    IOTEST_REQUIRE_NETNS();
    LocalRuleRestore restore;
    auto rt = open_rt();
    const PolicyRule local0{0, io::kLocalTable}, local100{100, io::kLocalTable};

    require_ok(rt.add_rule(local100));
    require_ok(rt.delete_rule(local0));
    auto rules = list_rules(rt);
    CHECK(!find_rule(rules, 0, io::kLocalTable));
    const auto* moved = find_rule(rules, 100, io::kLocalTable);
    REQUIRE(moved);
    CHECK(!moved->other_selectors);
    const std::string shown = sh_out("ip rule show");
    CHECK_MESSAGE(contains(shown, "100:\tfrom all lookup local"), shown);
    CHECK(sh_out("ip rule show pref 0").empty());
    // Local delivery still works, through the rule at 100.
    CHECK(sh("ping -c1 -W1 127.0.0.1") == 0);

    require_ok(rt.add_rule(local0));
    require_ok(rt.delete_rule(local100));
    rules = list_rules(rt);
    CHECK(find_rule(rules, 0, io::kLocalTable));
    CHECK(!find_rule(rules, 100, io::kLocalTable));
    CHECK(contains(sh_out("ip rule show pref 0"), "lookup local"));
}

TEST_CASE("a default route in a table of its own, added and removed") {
    IOTEST_REQUIRE_NETNS();
    Veth veth;
    auto rt = open_rt();
    auto idx = rt.ifindex("cnv0");
    REQUIRE(idx.ok());

    // A link route needs the device up.
    auto down = rt.add_default_route(100, *idx);
    REQUIRE(!down.ok());
    CHECK_MESSAGE(starts_with(down.error(), "add route default dev cnv0 table 100: Network is down"), down.error());
    CHECK(sh_out("ip route show table 100").empty());

    require_ok(rt.set_link("cnv0", true));
    require_ok(rt.add_default_route(100, *idx));
    std::string shown = sh_out("ip route show table 100");
    CHECK_MESSAGE(contains(shown, "default dev cnv0 proto static scope link"), shown);
    auto twice = rt.add_default_route(100, *idx);
    REQUIRE(!twice.ok());
    CHECK_MESSAGE(starts_with(twice.error(), "add route default dev cnv0 table 100: File exists"), twice.error());
    CHECK(sh_out("ip route show table main | grep -c '^default dev cnv0'") == "0\n"); // only table 100

    // Tables beyond 255 go in RTA_TABLE only.
    require_ok(rt.add_default_route(70000, *idx));
    CHECK(contains(sh_out("ip route show table 70000"), "default dev cnv0 proto static scope link"));

    require_ok(rt.delete_default_route(100, *idx));
    CHECK(sh_out("ip route show table 100").empty());
    auto gone = rt.delete_default_route(100, *idx);
    REQUIRE(!gone.ok());
    CHECK_MESSAGE(starts_with(gone.error(), "delete route default dev cnv0 table 100: "), gone.error());
    require_ok(rt.delete_default_route(70000, *idx));
    CHECK(sh_out("ip route show table 70000").empty());
}

TEST_CASE("sysctls: read, write, and errors that name the path") {
    IOTEST_REQUIRE_NETNS();
    Veth veth; // its own conf/ directory: nothing to restore
    const std::string path = "/proc/sys/net/ipv4/conf/cnv0/rp_filter";
    auto before = io::read_sysctl(path);
    REQUIRE_MESSAGE(before.ok(), before.error());
    CHECK(*before == "0"); // the script sets default.rp_filter = 0
    require_ok(io::write_sysctl(path, "2"));
    CHECK(sh_out("sysctl -n net.ipv4.conf.cnv0.rp_filter") == "2\n");
    auto after = io::read_sysctl(path);
    REQUIRE(after.ok());
    CHECK(*after == "2");

    auto bad = io::write_sysctl(path, "not a number");
    REQUIRE(!bad.ok());
    CHECK_MESSAGE(starts_with(bad.error(), "write " + path + " = not a number: Invalid argument"), bad.error());
    const std::string missing = "/proc/sys/net/ipv4/conf/cnnosuch0/rp_filter";
    auto r = io::read_sysctl(missing);
    REQUIRE(!r.ok());
    CHECK_MESSAGE(r.error() == "read " + missing + ": No such file or directory", r.error());
    auto w = io::write_sysctl(missing, "1");
    REQUIRE(!w.ok());
    CHECK(starts_with(w.error(), "write " + missing));
}

} // TEST_SUITE
