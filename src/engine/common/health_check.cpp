// The local check: the expected table (the engine's own description) against the kernel's
// rule set, the queue bindings, sysctls and the WAN's addresses.
#include "engine/common/health_check.hpp"

#include "conenat/io/rtnetlink.hpp"
#include "conenat/io/sysctl.hpp"
#include "conenat/util/text.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

namespace conenat::engine {

namespace {

using L = Finding::Level;

std::string chain_name(const io::NftChainView& c) { return "table " + c.family + " " + c.table + " chain " + c.name; }

bool ours(const EngineConfig& o, const std::string& family, const std::string& table) { return family == "ip" && table == o.table; }

const char* hook_text(io::nft::Hook h) {
    switch (h) {
    case io::nft::Hook::Prerouting: return "prerouting";
    case io::nft::Hook::Input: return "input";
    case io::nft::Hook::Forward: return "forward";
    case io::nft::Hook::Output: return "output";
    case io::nft::Hook::Postrouting: break;
    }
    return "postrouting";
}

// The queue numbers of a rule description (its "queue num N" terms).
std::vector<std::uint16_t> queues_of(const io::nft::Rule& rule) {
    std::vector<std::uint16_t> out;
    for (const io::nft::Term& t : rule)
        if (t.text.rfind("queue num ", 0) == 0)
            if (const auto n = text::parse_uint(std::string_view(t.text).substr(10, t.text.find(' ', 10) - 10), 0, 0xffff))
                out.push_back(std::uint16_t(*n));
    return out;
}

// What a queue of the engine is for, by the chains whose rules send to it.
std::string purpose(const std::vector<std::string>& chains) {
    auto one = [](const std::string& chain) -> std::string {
        if (chain == "snat_queue") return "first packets of new outbound flows";
        if (chain == "dnat_queue") return "first packets of new inbound flows";
        if (chain.rfind("out", 0) == 0) return "outbound traffic of worker " + chain.substr(3);
        if (chain.rfind("in", 0) == 0) return "inbound traffic of worker " + chain.substr(2);
        if (chain.rfind("hp", 0) == 0) return "hairpinned traffic of worker " + chain.substr(2);
        return "chain " + chain;
    };
    // The queue engine's main queue takes both directions of its worker.
    if (chains.size() == 2 && chains[0].rfind("in", 0) == 0 && chains[1].rfind("out", 0) == 0 && chains[0].substr(2) == chains[1].substr(3))
        return "traffic of worker " + chains[0].substr(2) + ", both directions";
    std::string text;
    for (const std::string& c : chains) text += (text.empty() ? "" : " and ") + one(c);
    return text;
}

void check_table(const EngineConfig& o, const io::nft::RuleSet& expected, const io::NftRuleset& rs, std::vector<Finding>& out) {
    const std::string table = "table ip " + o.table;
    const bool present = std::any_of(rs.chains.begin(), rs.chains.end(), [&](const auto& c) { return ours(o, c.family, c.table); }) ||
                         std::any_of(rs.sets.begin(), rs.sets.end(), [&](const auto& s) { return ours(o, s.family, s.table); });
    if (!present) {
        out.push_back({L::Problem, table + " is missing: conenatd's NAT rules are not in the kernel, nothing is translated. " +
                                       (o.rules_auto ? "Restart conenatd (systemctl restart conenatd)."
                                                     : "With --rules manual the table is yours to load: conenatd --print-rules "
                                                       "prints it (nft -f).")});
        return;
    }
    std::vector<std::string> missing;
    for (const io::nft::Chain& want : expected.chains) {
        const auto c = std::find_if(rs.chains.begin(), rs.chains.end(),
                                    [&](const auto& have) { return ours(o, have.family, have.table) && have.name == want.name; });
        if (c == rs.chains.end()) {
            missing.push_back("chain " + want.name);
            continue;
        }
        if (!want.base) continue;
        // Under --rules manual the user's text may place the chains a little differently.
        if (!c->base || c->hook != hook_text(want.base->hook) || (o.rules_auto && c->priority != want.base->priority))
            out.push_back({L::Problem, table + " chain " + want.name + " hooks " + (c->base ? c->hook + " priority " + std::to_string(c->priority) : "nowhere") +
                                           ", not " + hook_text(want.base->hook) + " priority " + std::to_string(want.base->priority) +
                                           ": its packets are not where conenatd expects them. Reinstall the rules (restart conenatd)."});
    }
    for (const io::nft::Set& want : expected.sets)
        if (std::none_of(rs.sets.begin(), rs.sets.end(), [&](const auto& s) { return ours(o, s.family, s.table) && s.name == want.name; }))
            missing.push_back((want.data.empty() ? "set " : "map ") + want.name);
    if (!missing.empty()) {
        std::string list;
        for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
        out.push_back({L::Problem, table + " lacks " + list + ": part of the NAT is not in the kernel. " +
                                       (o.rules_auto ? "Restart conenatd to reinstall it." : "Load the whole table again (conenatd --print-rules).")});
        return;
    }
    out.push_back({L::Ok, table + ": its " + std::to_string(expected.chains.size()) + " chains and " + std::to_string(expected.sets.size()) +
                              " sets and maps are in place."});
}

// Every queue the engine listens on: a rule (ours or iptables') sends packets to it, a
// listener is bound, and it drops nothing while sampled.
void check_queues(const EngineConfig& o, const io::nft::RuleSet& expected, const SystemView& v, std::vector<Finding>& out) {
    std::map<std::uint16_t, std::vector<std::string>> wanted; // queue -> the chains of ours that feed it
    for (const io::nft::Chain& c : expected.chains)
        for (const io::nft::Rule& r : c.rules)
            for (std::uint16_t q : queues_of(r))
                if (auto& feeds = wanted[q]; std::find(feeds.begin(), feeds.end(), c.name) == feeds.end()) feeds.push_back(c.name);
    for (const auto& [q, chains] : wanted) {
        const std::string name = "NFQUEUE " + std::to_string(q) + " (" + purpose(chains) + ")";
        std::string chain;
        for (const std::string& c : chains) chain += (chain.empty() ? "" : ", ") + c;
        std::vector<std::string> feeders;
        std::uint64_t packets = 0, packets_later = 0;
        for (const io::NftRuleView& r : v.ruleset.rules)
            if (std::find(r.queues.begin(), r.queues.end(), q) != r.queues.end()) {
                const std::string where = "table " + r.family + " " + r.table + " chain " + r.chain;
                if (std::find(feeders.begin(), feeders.end(), where) == feeders.end()) feeders.push_back(where);
                packets += r.packets;
            }
        for (const io::NftRuleView& r : v.ruleset_later.rules)
            if (std::find(r.queues.begin(), r.queues.end(), q) != r.queues.end()) packets_later += r.packets;
        if (feeders.empty()) {
            out.push_back({L::Problem, name + ": no rule sends packets to it (the queue rule of " + chain +
                                           " is missing): those packets are never translated. " +
                                           (o.rules_auto ? "Restart conenatd to reinstall its rules."
                                                         : "Add the queue rules again (conenatd --print-rules, or "
                                                           "examples/iptables-*.sh for iptables).")});
            continue;
        }
        const auto b = std::find_if(v.bindings.begin(), v.bindings.end(), [&](const auto& x) { return x.queue == q; });
        const auto b2 = std::find_if(v.bindings_later.begin(), v.bindings_later.end(), [&](const auto& x) { return x.queue == q; });
        if (b == v.bindings.end() || b2 == v.bindings_later.end()) {
            out.push_back({L::Problem, name + ": nobody listens on it (not in /proc/net/netfilter/nfnetlink_queue): the packets "
                                           "sent there are dropped. conenatd binds it at start: restart conenatd."});
            continue;
        }
        const std::uint64_t dropped = (b2->queue_dropped - b->queue_dropped) + (b2->user_dropped - b->user_dropped);
        if (dropped > 0) {
            out.push_back({L::Problem, name + ": " + std::to_string(dropped) + " packets dropped in the last second (queue full or "
                                           "socket buffer full): conenatd does not keep up. Fewer new flows, more --queues, or a "
                                           "larger queue."});
            continue;
        }
        std::string feeder_text;
        for (const std::string& f : feeders) feeder_text += (feeder_text.empty() ? "" : ", ") + f;
        const std::uint32_t moved = b2->id_sequence - b->id_sequence;
        out.push_back({L::Ok, name + ": fed by " + feeder_text + ", bound (netlink port " + std::to_string(b2->portid) + "), " +
                                  std::to_string(b2->id_sequence) + " packets so far, " +
                                  (moved || packets_later != packets
                                       ? std::to_string(moved) + " in the last second: active"
                                       : std::string("none in the last second (no new traffic to judge by)")) +
                                  ", nothing dropped."});
    }
}

// The lowest priority of our nat base chains at `hook` (conntrack engine), or none.
std::optional<int> our_nat_priority(const io::nft::RuleSet& expected, io::nft::Hook hook) {
    std::optional<int> p;
    for (const io::nft::Chain& c : expected.chains)
        if (c.base && c.base->type == "nat" && c.base->hook == hook)
            p = p ? std::min(*p, c.base->priority) : c.base->priority;
    return p;
}

// Another table's NAT that runs before ours on the LAN's traffic: the kernel stops at the first
// nat chain that binds a flow, so such a rule decides the mapping (RFC 4787 behaviour of plain
// Linux NAT) and conenatd's never applies.
void check_shadows(const EngineConfig& o, const io::nft::RuleSet& expected, const io::NftRuleset& rs, std::vector<Finding>& out) {
    if (o.engine != EngineKind::Conntrack) {
        // The software engines take the NAT's traffic out of conntrack in prerouting raw; no
        // nat chain ever sees it.
        out.push_back({L::Ok, "the NAT's traffic leaves conntrack in conenatd's raw chains: no other NAT rule can take it."});
        return;
    }
    bool any = false;
    for (const auto& [hook, source] : {std::pair{io::nft::Hook::Postrouting, true}, std::pair{io::nft::Hook::Prerouting, false}}) {
        const std::optional<int> mine = our_nat_priority(expected, hook);
        if (!mine) continue;
        for (const io::NftChainView& c : rs.chains) {
            if (!c.base || c.type != "nat" || c.hook != hook_text(hook) || c.priority >= *mine || ours(o, c.family, c.table))
                continue;
            // The chain and what it jumps to (bounded walk).
            std::vector<std::string> todo{c.name};
            std::set<std::string> seen;
            while (!todo.empty() && seen.size() < 64) {
                const std::string name = todo.back();
                todo.pop_back();
                if (!seen.insert(name).second) continue;
                for (const io::NftRuleView& r : rs.rules) {
                    if (r.family != c.family || r.table != c.table || r.chain != name) continue;
                    for (const std::string& j : r.jumps) todo.push_back(j);
                    const bool nat = source ? r.source_nat : r.destination_nat;
                    const auto& ifname = source ? r.oifname : r.iifname;
                    if (!nat || (ifname && *ifname != o.external_if)) continue; // another interface's NAT
                    any = true;
                    const std::string where = chain_name(c) + (name != c.name ? " (through chain " + name + ")" : "");
                    if (source)
                        out.push_back({L::Problem, where + " (" + c.hook + " priority " + std::to_string(c.priority) +
                                                       ", before conenatd's " + std::to_string(*mine) + ") has a " + r.nat_text +
                                                       " rule (handle " + std::to_string(r.handle) + "): it translates the LAN's "
                                                       "outbound traffic first, with the kernel's own port choice, and conenatd's "
                                                       "NAT never applies. Delete that rule, or give its chain a priority after " +
                                                       std::to_string(*mine + 1) + " (srcnat, 100, is fine)."});
                    else
                        out.push_back({L::Note, where + " (" + c.hook + " priority " + std::to_string(c.priority) +
                                                    ", before conenatd's " + std::to_string(*mine) + ") has a " + r.nat_text +
                                                    " rule (handle " + std::to_string(r.handle) + "): inbound packets it matches "
                                                    "never reach conenatd's mappings; fine for ports outside conenatd's pool."});
                }
            }
        }
    }
    if (!any)
        out.push_back({L::Ok, "no other NAT rule runs before conenatd's on the LAN's traffic."});
}

// One sample of what moves: the rule set (its counters) and the queue bindings.
Status sample(io::NftRuleset& ruleset, std::vector<io::QueueBinding>& bindings) {
    auto rs = io::read_ruleset();
    if (!rs) return Error{rs.error()};
    ruleset = std::move(rs.value());
    auto b = io::read_queue_bindings();
    if (!b) return Error{b.error()};
    bindings = std::move(b.value());
    return {};
}

} // namespace

Result<SystemView> read_system_view(const EngineConfig& o) {
    SystemView v;
    CONENAT_TRY(sample(v.ruleset, v.bindings));
    std::this_thread::sleep_for(std::chrono::milliseconds(kSampleMs));
    CONENAT_TRY(sample(v.ruleset_later, v.bindings_later));
    if (auto f = io::read_sysctl("/proc/sys/net/ipv4/ip_forward")) v.ip_forward = *f;
    if (auto a = io::ipv4_addresses(o.external_if)) v.wan_addresses = std::move(a.value());
    if (auto l = io::read_sysctl("/proc/net/ip_tables_names")) v.legacy_tables = *l;
    return v;
}

std::vector<Finding> check_view(const EngineConfig& o, const io::nft::RuleSet& expected, const SystemView& v) {
    std::vector<Finding> out;
    check_table(o, expected, v.ruleset, out);
    check_queues(o, expected, v, out);
    if (v.ip_forward.rfind("1", 0) == 0)
        out.push_back({L::Ok, "IPv4 forwarding is on."});
    else
        out.push_back({L::Problem, "IPv4 forwarding is off (net.ipv4.ip_forward = " + (v.ip_forward.empty() ? "?" : v.ip_forward.substr(0, 1)) +
                                       "): the router forwards nothing between LAN and WAN. Turn it on: sysctl -w "
                                       "net.ipv4.ip_forward=1, and in /etc/sysctl.d/ for the next boot."});
    if (!v.wan_addresses) {
        out.push_back({L::Problem, "the WAN interface " + o.external_if + " does not exist (or cannot be read): nothing leaves "
                                       "through it. Check --external-if."});
    } else if (v.wan_addresses->empty()) {
        out.push_back({L::Problem, "the WAN interface " + o.external_if + " has no IPv4 address: NAT pauses until it has one "
                                       "(DHCP or PPPoE not up yet?)."});
    } else {
        std::string list;
        for (core::Ipv4 a : *v.wan_addresses) list += (list.empty() ? "" : ", ") + text::format_ipv4(a);
        out.push_back({L::Ok, "the WAN interface " + o.external_if + " has " + list + "."});
        if (!o.external_from_if)
            for (core::Ipv4 a : o.nat.pool.external_addrs)
                if (std::find(v.wan_addresses->begin(), v.wan_addresses->end(), a) == v.wan_addresses->end())
                    out.push_back({L::Note, "--external-ip " + text::format_ipv4(a) + " is not an address of " + o.external_if +
                                                ": the upstream must route it to this router."});
    }
    check_shadows(o, expected, v.ruleset, out);
    if (v.legacy_tables.find("nat") != std::string::npos)
        out.push_back({L::Note, "an iptables-legacy nat table exists: its rules cannot be read through nf_tables and were "
                                    "not checked (iptables-legacy -t nat -L shows them)."});
    return out;
}

} // namespace conenat::engine
