#include "engine/tun/rules.hpp"

#include "conenat/io/nft_terms.hpp"
#include "engine/common/rule_parts.hpp"
#include "engine/software/shard_plan.hpp"

namespace conenat::engine {

using namespace io::nft;

namespace {
constexpr std::initializer_list<std::uint8_t> kIcmpErrors = {3, 11, 12};
constexpr std::uint8_t kEchoReply = 0;
} // namespace

RuleSet tun_rules(const EngineConfig& o, const std::string& tun_if) {
    const std::string ext = kExternalSet, steer = "steer", &wan = o.external_if;
    const std::vector<core::PortRange>& pool = o.nat.pool.ports.ranges();
    const std::vector<core::PortRange> ports = nat_ports(o.nat); // the pool's and the forwards'

    const Term internal = internal_source(o);
    RuleSet r;
    r.table = o.table;
    r.comment = "conenatd --engine tun rule set (conenatd --print-rules). conenatd installs it through libnftnl,\n"
                "and routes what it marks into " + tun_if + " by policy routing (ip rule fwmark M/M lookup <table>;\n"
                "ip route add default dev " + tun_if + " table <table>); the 'lookup local' rule moves behind it.";
    r.sets.push_back(external_set(o));
    r.sets.push_back(dnat_replies_set());
    r.chains.push_back({steer, std::nullopt, {{mark_set_bits(o.mark), notrack(), counter(), accept()}}});
    r.chains.push_back(
        {"pre",
         BaseChain{"filter", Hook::Prerouting, -300},
         {
             {iifname(tun_if), notrack(), counter(), accept()},
             // An internal source arriving on the WAN is spoofed (RFC 2827 ingress filtering):
             // never the NAT's (the engine would take it for outbound or hairpinned traffic).
             {iifname(wan), internal, daddr_in_set(ext), counter(), drop()},
             {daddr_in_set(ext), fragment(), goto_chain(steer)},
             {daddr_in_set(ext), local_socket(), accept()},
             {daddr_in_set(ext), l4proto({Proto4::Tcp, Proto4::Udp}), th_dport_in(ports), goto_chain(steer)},
             {daddr_in_set(ext), icmp_type({kEchoReply}), icmp_id_in(pool), goto_chain(steer)},
             {daddr_in_set(ext), icmp_type(kIcmpErrors), goto_chain(steer)},
             dnat_reply_rule(o), // the user's own DNAT flows' replies: the kernel's
             {iifname(wan, Cmp::Neq), internal, fib_daddr_oif(wan), goto_chain(steer)},
         }});
    r.chains.push_back(dnat_flows_chain(o));
    // The router's own ICMP errors about packets the engine delivered (fragmentation needed on
    // the LAN link, say) quote the translated packet: rerouted (a route chain) into the device,
    // where the engine restores the quoted header (RFC 5508 REQ-5).
    r.chains.push_back({"output",
                        BaseChain{"route", Hook::Output, -300},
                        {{internal_destination(o, Cmp::Neq), icmp_type(kIcmpErrors), quoted_internal_destination(o),
                          goto_chain(steer)}}});
    return r;
}

} // namespace conenat::engine
