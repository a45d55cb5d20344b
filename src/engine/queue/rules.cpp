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

// The four ways an inbound packet names its external port: TCP/UDP destination port, echo
// reply identifier, and the source port (or echo identifier) of the packet an ICMP error
// quotes. `handed_on`: the second half of a hairpinned packet (marked by the first worker).
void inbound(std::vector<Rule>& rules, const EngineConfig& o, bool handed_on, const std::string& map) {
    auto head = [&] {
        Rule r;
        if (handed_on)
            r.push_back(mark_has(o.mark));
        r.push_back(daddr_in_set(kExternalSet));
        return r;
    };
    auto rule = [&](std::initializer_list<Term> terms) {
        Rule r = head();
        r.insert(r.end(), terms);
        rules.push_back(std::move(r));
    };
    rule({l4proto({Proto4::Tcp, Proto4::Udp}), vmap(Key::ThDport, map)});
    if (!handed_on) // echo requests to our addresses are the router's: no hairpinned echo reply
        rule({icmp_type({kEchoReply}), vmap(Key::IcmpId, map)});
    // A quoted header with options moves the ports: those errors stay the router's.
    rule({icmp_type(kIcmpErrors), quoted_header_plain(), quoted_proto({Proto4::Tcp, Proto4::Udp}),
          vmap(Key::QuotedSport, map)});
    rule({icmp_type(kIcmpErrors), quoted_header_plain(), quoted_proto({Proto4::Icmp}), vmap(Key::QuotedEchoId, map)});
}

} // namespace

RuleSet queue_rules(const EngineConfig& o, const ShardPlan& plan, bool native) {
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
    r.sets.push_back(external_set(o));
    r.sets.push_back({"in_ports", {Type::InetService}, {Type::Verdict}, true, elements(plan.ports, "in")});
    r.sets.push_back({"hp_ports", {Type::InetService}, {Type::Verdict}, true, elements(plan.ports, "hp")});
    r.sets.push_back({"out_hosts", {Type::Ipv4Addr}, {Type::Verdict}, !by_byte, elements(plan.hosts, "out")});
    r.sets.push_back({"hp_hosts", {Type::Ipv4Addr}, {Type::Verdict}, !by_byte, elements(plan.hosts, "hp")});

    for (unsigned k = 0; k < plan.workers; ++k) {
        // Untracked only once queued: a packet no worker takes stays the kernel's.
        r.chains.push_back({worker_chain("in", k), std::nullopt,
                            {{notrack(), counter(), queue(main_queue(o, k), native, o.fail_open)}}});
        r.chains.push_back({worker_chain("out", k), std::nullopt,
                            {{counter(), queue(main_queue(o, k), native, o.fail_open)}}});
        r.chains.push_back({worker_chain("hp", k), std::nullopt,
                            {{notrack(), counter(), queue(hairpin_queue(o, k), native, o.fail_open)}}});
    }

    const Term host = vmap(by_byte ? Key::SaddrLowByte : Key::Saddr, "hp_hosts");
    std::vector<Rule> pre = {
        // An internal source arriving on the WAN is spoofed (RFC 2827 ingress filtering): it
        // must never reach the core, where it would look inbound (or hairpinned) and open,
        // refresh or close state. Dropped and counted before anything else.
        {iifname(wan), internal, daddr_in_set(kExternalSet), counter(), drop()},
        // The router's own flows (and services bound to our addresses) keep conntrack and
        // local delivery: a packet with a local socket is never the NAT's.
        {daddr_in_set(kExternalSet), local_socket(), accept()},
    };
    inbound(pre, o, true, "hp_ports");
    // Hairpinning (RFC 4787 REQ-9): from inside to one of our external endpoints; and ICMP
    // errors from inside about hairpinned packets (RFC 5508 REQ-7).
    pre.push_back({iifname(wan, Cmp::Neq), internal, daddr_in_set(kExternalSet), l4proto({Proto4::Tcp, Proto4::Udp}),
                   th_dport_in(o.nat.pool.ports.ranges()), host});
    pre.push_back({iifname(wan, Cmp::Neq), internal, daddr_in_set(kExternalSet), icmp_type(kIcmpErrors), host});
    inbound(pre, o, false, "in_ports");
    // Outbound: out of conntrack here (before it), translated in postrouting.
    pre.push_back({iifname(wan, Cmp::Neq), internal, fib_daddr_oif(wan), notrack()});
    r.chains.push_back({"pre", BaseChain{"filter", Hook::Prerouting, -300}, std::move(pre)});

    r.chains.push_back(
        {"post",
         BaseChain{"filter", Hook::Postrouting, 100},
         {
             {oifname(wan), internal, ct_untracked(), vmap(by_byte ? Key::SaddrLowByte : Key::Saddr, "out_hosts")},
             // The router's own ICMP errors about inbound packets (e.g. fragmentation needed on
             // the LAN link) quote the translated packet: they go out through the NAT as well.
             {oifname(wan), saddr_in_set(kExternalSet), icmp_type(kIcmpErrors),
              quoted_daddr_in(o.internal_net, o.internal_prefix),
              vmap(by_byte ? Key::QuotedDaddrLowByte : Key::QuotedDaddr, "out_hosts")},
         }});
    // What the daemon sends itself (re-injected hairpinned packets, ICMP errors) needs no conntrack.
    r.chains.push_back({"output", BaseChain{"filter", Hook::Output, -300}, {{mark_has(o.mark), notrack()}}});
    return r;
}

} // namespace conenat::engine
