#include "engine/queue/rules.hpp"

#include "conenat/io/nft_terms.hpp"
#include "engine/common/rule_parts.hpp"

namespace conenat::engine {

using namespace io::nft;

namespace {

// ICMP errors whose quoted packet names one of our mappings (RFC 5508 §4.2).
constexpr std::initializer_list<std::uint8_t> kIcmpErrors = {3, 11, 12};
constexpr std::uint8_t kEchoReply = 0;

std::string worker_chain(const char* kind, unsigned worker) { return kind + std::to_string(worker); }

std::vector<Element> elements(const std::vector<ShardRange>& ranges, const char* kind) {
    std::vector<Element> out;
    for (const ShardRange& r : ranges)
        out.push_back({r.first, r.last, worker_chain(kind, r.worker)});
    return out;
}

// How a packet reaches its worker's chain: through a verdict map by its key; or, where an
// iptables script queues (with one worker: its queue numbers are fixed), by a match of the
// ports and a goto. nft's language cannot declare a map looked up by keys of several types
// (th dport, icmp id, the raw quoted port), so `nft -f` could not load the maps.
struct Dispatch {
    bool direct = false;               // goto worker 0's chains
    std::vector<core::PortRange> ports; // direct: worker 0's external ports

    std::vector<Term> by_port(Key key, const std::string& map, const char* kind) const {
        if (!direct)
            return {vmap(key, map)};
        return {key_in(key, ports), goto_chain(worker_chain(kind, 0))};
    }
    // One worker owns every internal host: no match needed.
    std::vector<Term> by_host(Key key, const std::string& map, const char* kind) const {
        if (!direct)
            return {vmap(key, map)};
        return {goto_chain(worker_chain(kind, 0))};
    }
};

// The four ways an inbound packet names its external port: TCP/UDP destination port, echo
// reply identifier, and the source port (or echo identifier) of the packet an ICMP error
// quotes. `handed_on`: the second half of a hairpinned packet (marked by the first worker).
void inbound(std::vector<Rule>& rules, const EngineConfig& o, bool handed_on, const Dispatch& d) {
    const std::string map = handed_on ? "hp_ports" : "in_ports";
    const char* kind = handed_on ? "hp" : "in";
    auto head = [&] {
        Rule r;
        if (handed_on)
            r.push_back(mark_has(o.mark));
        r.push_back(daddr_in_set(kExternalSet));
        return r;
    };
    auto rule = [&](std::initializer_list<Term> terms, Key key) {
        Rule r = head();
        r.insert(r.end(), terms);
        for (Term& t : d.by_port(key, map, kind))
            r.push_back(std::move(t));
        rules.push_back(std::move(r));
    };
    rule({l4proto({Proto4::Tcp, Proto4::Udp})}, Key::ThDport);
    if (!handed_on) // echo requests to our addresses are the router's: no hairpinned echo reply
        rule({icmp_type({kEchoReply})}, Key::IcmpId);
    // A quoted header with options moves the ports: those errors stay the router's.
    rule({icmp_type(kIcmpErrors), quoted_header_plain(), quoted_proto({Proto4::Tcp, Proto4::Udp})}, Key::QuotedSport);
    rule({icmp_type(kIcmpErrors), quoted_header_plain(), quoted_proto({Proto4::Icmp})}, Key::QuotedEchoId);
}

} // namespace

RuleSet queue_rules(const EngineConfig& o, const ShardPlan& plan, Queueing queueing) {
    const std::string& wan = o.external_if;
    const bool by_byte = plan.by_low_byte;
    const Term internal = internal_source(o);
    RuleSet r;
    r.table = o.table;
    r.comment = "conenatd --engine queue rule set (conenatd --print-rules). conenatd installs it through\n"
                "libnftnl. Each \"queue num N\" is the nft queue statement where the kernel has it\n"
                "(CONFIG_NFT_QUEUE), else the xt NFQUEUE target (nft_compat), which the nft CLI cannot express.\n"
                "Worker k: main queue " + std::to_string(o.queue_out) + " + 2k, hairpin queue " +
                std::to_string(o.queue_out) + " + 2k + 1.";
    // Before iptables' raw table (-300) when its NFQUEUE rules take what these chains untrack.
    const int raw = queueing == Queueing::Elsewhere ? -310 : -300;
    if (queueing == Queueing::Elsewhere)
        r.comment = "conenatd --engine queue rule set without its queue statements (conenatd\n"
                    "--print-rules-without-queues), for `nft -f` on a kernel without the nft queue statement\n"
                    "(CONFIG_NFT_QUEUE): the worker chains only take the NAT's packets out of conntrack, and\n"
                    "iptables' raw and mangle tables send those untracked packets to NFQUEUE. The chains run\n"
                    "at raw - 10 (-310), before iptables' raw table.";
    Dispatch d;
    d.direct = queueing == Queueing::Elsewhere && plan.workers == 1;
    for (const ShardRange& s : plan.ports)
        d.ports.push_back({std::uint16_t(s.first), std::uint16_t(s.last)});
    r.sets.push_back(external_set(o));
    r.sets.push_back(dnat_replies_set());
    if (!d.direct) {
        r.sets.push_back({"in_ports", {Type::InetService}, {Type::Verdict}, true, elements(plan.ports, "in")});
        r.sets.push_back({"hp_ports", {Type::InetService}, {Type::Verdict}, true, elements(plan.ports, "hp")});
        r.sets.push_back({"out_hosts", {Type::Ipv4Addr}, {Type::Verdict}, !by_byte, elements(plan.hosts, "out")});
        r.sets.push_back({"hp_hosts", {Type::Ipv4Addr}, {Type::Verdict}, !by_byte, elements(plan.hosts, "hp")});
    }

    for (unsigned k = 0; k < plan.workers; ++k) {
        // Untracked only once queued: a packet no worker takes stays the kernel's.
        Rule in{notrack(), counter()}, out{counter()}, hp{notrack(), counter()};
        add_queue(in, main_queue(o, k), queueing, o.fail_open);
        add_queue(out, main_queue(o, k), queueing, o.fail_open);
        add_queue(hp, hairpin_queue(o, k), queueing, o.fail_open);
        r.chains.push_back({worker_chain("in", k), std::nullopt, {std::move(in)}});
        r.chains.push_back({worker_chain("out", k), std::nullopt, {std::move(out)}});
        r.chains.push_back({worker_chain("hp", k), std::nullopt, {std::move(hp)}});
    }

    const Key saddr = by_byte ? Key::SaddrLowByte : Key::Saddr;
    const Key quoted_daddr = by_byte ? Key::QuotedDaddrLowByte : Key::QuotedDaddr;
    auto then = [](Rule head, std::vector<Term> tail) {
        head.insert(head.end(), tail.begin(), tail.end());
        return head;
    };
    std::vector<Rule> pre = {
        // An internal source arriving on the WAN is spoofed (RFC 2827 ingress filtering): it
        // must never reach the core, where it would look inbound (or hairpinned) and open,
        // refresh or close state. Dropped and counted before anything else.
        {iifname(wan), internal, daddr_in_set(kExternalSet), counter(), drop()},
        // The router's own flows (and services bound to our addresses) keep conntrack and
        // local delivery: a packet with a local socket is never the NAT's.
        {daddr_in_set(kExternalSet), local_socket(), accept()},
    };
    inbound(pre, o, true, d);
    // Hairpinning (RFC 4787 REQ-9): from inside to one of our external endpoints; and ICMP
    // errors from inside about hairpinned packets (RFC 5508 REQ-7).
    pre.push_back(then({iifname(wan, Cmp::Neq), internal, daddr_in_set(kExternalSet), l4proto({Proto4::Tcp, Proto4::Udp}),
                        th_dport_in(nat_ports(o.nat))},
                       d.by_host(saddr, "hp_hosts", "hp")));
    pre.push_back(then({iifname(wan, Cmp::Neq), internal, daddr_in_set(kExternalSet), icmp_type(kIcmpErrors)},
                       d.by_host(saddr, "hp_hosts", "hp")));
    inbound(pre, o, false, d);
    // Outbound: out of conntrack here (before it), translated in postrouting; but the replies
    // of the user's own DNAT flows keep it.
    pre.push_back(dnat_reply_rule(o));
    pre.push_back({iifname(wan, Cmp::Neq), internal, fib_daddr_oif(wan), notrack()});
    r.chains.push_back({"pre", BaseChain{"filter", Hook::Prerouting, raw}, std::move(pre)});
    r.chains.push_back(dnat_flows_chain(o));

    r.chains.push_back(
        {"post",
         BaseChain{"filter", Hook::Postrouting, 100},
         {
             then({oifname(wan), internal, ct_untracked()}, d.by_host(saddr, "out_hosts", "out")),
             // The router's own ICMP errors about inbound packets (e.g. fragmentation needed on
             // the LAN link) quote the translated packet: they go out through the NAT as well.
             then({oifname(wan), saddr_in_set(kExternalSet), icmp_type(kIcmpErrors),
                   quoted_internal_destination(o)},
                  d.by_host(quoted_daddr, "out_hosts", "out")),
         }});
    // What the daemon sends itself (re-injected hairpinned packets, ICMP errors) needs no conntrack.
    r.chains.push_back({"output", BaseChain{"filter", Hook::Output, raw}, {{mark_has(o.mark), notrack()}}});
    return r;
}

} // namespace conenat::engine
