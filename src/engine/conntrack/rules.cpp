#include "engine/conntrack/rules.hpp"

#include "conenat/io/nft_terms.hpp"
#include "engine/common/rule_parts.hpp"

namespace conenat::engine {

using namespace io::nft;
using core::Behaviour;
using core::Proto;

namespace {

constexpr std::uint8_t kEchoRequest = 8;

Proto4 proto4(Proto p) { return Proto4(std::uint8_t(p)); }

std::vector<Type> types_of(const std::vector<Field>& key) {
    std::vector<Type> t;
    for (Field f : key)
        t.push_back(f == Field::SrcAddr || f == Field::DstAddr ? Type::Ipv4Addr : Type::InetService);
    return t;
}

Set nat_map(std::string_view name, const std::vector<Field>& key) {
    return {std::string(name), types_of(key), {Type::Ipv4Addr, Type::InetService}, false, {}};
}

// snat_icmp's key holds an icmp id, an integer in an inet_service slot (the same bytes): only
// declared by its fields (typeof) does nft list it so that `nft -f` accepts the rules using it.
Set icmp_map(const std::vector<Field>& key) {
    Set s = nat_map(io::snat_map(Proto::Icmp), key);
    for (Field f : key)
        s.key_typeof.push_back(f == Field::SrcAddr ? Payload::IpSaddr : f == Field::DstAddr ? Payload::IpDaddr : Payload::IcmpId);
    s.data_typeof = {Payload::IpDaddr, Payload::ThDport};
    return s;
}

// The forwards of `o` with their external address resolved (0: the first external address);
// none while the WAN has no address.
std::vector<core::Forward> resolved_forwards(const EngineConfig& o) {
    std::vector<core::Forward> out;
    for (core::Forward f : o.nat.forwards) {
        if (f.external.addr == 0) {
            if (o.nat.pool.external_addrs.empty()) continue;
            f.external.addr = o.nat.pool.external_addrs.front();
        }
        out.push_back(f);
    }
    return out;
}

} // namespace

io::NatMaps conntrack_maps(const EngineConfig& o) {
    return {o.table, o.nat.udp.mapping, o.nat.tcp.mapping, o.nat.icmp.mapping};
}

RuleSet conntrack_rules(const EngineConfig& o, Queueing queueing) { return conntrack_rules(o, conntrack_maps(o), queueing); }

RuleSet conntrack_rules(const EngineConfig& o, const io::NatMaps& maps, Queueing queueing) {
    const std::string& wan = o.external_if;
    const std::vector<core::PortRange>& pool = o.nat.pool.ports.ranges();
    const Term internal = internal_source(o);
    // The daemon marks every packet it sends round again: a queue rule never takes it twice.
    Rule queue_out = {mark_lacks(o.mark), counter()}, queue_in = queue_out;
    add_queue(queue_out, o.queue_out, queueing);
    add_queue(queue_in, o.queue_in, queueing);
    auto rule = [](std::initializer_list<Term> head, const Rule& tail) {
        Rule r(head);
        r.insert(r.end(), tail.begin(), tail.end());
        return r;
    };

    RuleSet r;
    r.table = o.table;
    r.comment = "conenatd rule set (conenatd --print-rules). conenatd installs it through libnftnl.\n"
                "Each \"queue num N\" is the nft queue statement where the kernel has it (CONFIG_NFT_QUEUE),\n"
                "else the xt NFQUEUE target (nft_compat, queue N, no bypass), which nft lists the same way.";
    if (queueing == Queueing::Elsewhere)
        r.comment = "conenatd rule set without its queue statements (conenatd --print-rules-without-queues),\n"
                    "for `nft -f` on a kernel without the nft queue statement (CONFIG_NFT_QUEUE): the chains\n"
                    "dnat_queue and snat_queue only count first packets; iptables' nat chains send them to\n"
                    "NFQUEUE " + std::to_string(o.queue_in) + " (inbound, PREROUTING -100, before dnat_queue) and " +
                    std::to_string(o.queue_out) + " (outbound,\nPOSTROUTING 100, after snat_queue).";
    r.sets.push_back(external_set(o));
    for (Proto p : {Proto::Udp, Proto::Tcp})
        r.sets.push_back(nat_map(io::snat_map(p), io::snat_key(p, maps.mapping(p))));
    r.sets.push_back(icmp_map(io::snat_key(Proto::Icmp, maps.mapping(Proto::Icmp))));
    for (Proto p : {Proto::Udp, Proto::Tcp})
        r.sets.push_back(nat_map(io::dnat_map(p), io::dnat_key()));

    // A source inside the internal network arriving on the WAN is spoofed: dropped before
    // conntrack, so it never creates, refreshes or removes a flow or a mapping (it would pass
    // for hairpin traffic otherwise).
    r.chains.push_back({kChainSpoofGuard, BaseChain{"filter", Hook::Prerouting, -300},
                        {{iifname(wan), internal, counter(), drop()}}});

    Chain dnat{"dnat_map", BaseChain{"nat", Hook::Prerouting, -102}, {}};
    // conenatd's forwards: endpoint-independent filtering, any port, before every mapping.
    const std::vector<core::Forward> forwards = resolved_forwards(o);
    for (const core::Forward& f : forwards)
        dnat.rules.push_back({daddr_in(f.external.addr, 32), dport_in(proto4(f.proto), {{f.external.port, f.external.port}}),
                              dnat_to(f.internal)});
    for (Proto p : {Proto::Udp, Proto::Tcp}) {
        const bool filters = (p == Proto::Udp ? o.nat.udp.filtering : o.nat.tcp.filtering) != Behaviour::EndpointIndependent;
        Rule rl{daddr_in_set(kExternalSet)};
        if (filters) // only what the engine permitted (the mark) passes the filter
            rl.push_back(mark_has(o.mark));
        rl.push_back(dport_in(proto4(p), pool));
        rl.push_back(dnat_map(proto4(p), io::dnat_key(), std::string(io::dnat_map(p))));
        dnat.rules.push_back(std::move(rl));
    }
    r.chains.push_back(std::move(dnat));

    // After the user's own DNAT (nat chains at dstnat, -100, and firewalld's dstnat + 10): the
    // first of a hook's nat chains that binds stops the others, so a port forward of theirs
    // inside the pool never reaches the queue. A packet for one of the router's own sockets
    // is the router's: accepted here, it goes on to the later nat chains and local delivery.
    r.chains.push_back({kChainDnatQueue, BaseChain{"nat", Hook::Prerouting, kDnatQueuePriority},
                        {{daddr_in_set(kExternalSet), local_socket(), accept()},
                         rule({daddr_in_set(kExternalSet), l4proto({Proto4::Tcp, Proto4::Udp}), th_dport_in(pool)},
                              queue_in)}});

    Chain snat{"snat_map", BaseChain{"nat", Hook::Postrouting, 98}, {}};
    // A forward's server leaves from the forward's endpoint, whatever the mapping behaviour.
    for (const core::Forward& f : forwards)
        snat.rules.push_back({oifname(wan), saddr_in(f.internal.addr, 32),
                              sport_in(proto4(f.proto), {{f.internal.port, f.internal.port}}), snat_to(f.external)});
    for (bool hairpin : {false, true}) {
        for (Proto p : {Proto::Udp, Proto::Tcp, Proto::Icmp}) {
            Rule rl{hairpin ? ct_status_dnat() : oifname(wan), internal};
            if (p == Proto::Icmp)
                rl.push_back(icmp_type({kEchoRequest}));
            rl.push_back(snat_map(proto4(p), io::snat_key(p, maps.mapping(p)), std::string(io::snat_map(p))));
            snat.rules.push_back(std::move(rl));
        }
    }
    r.chains.push_back(std::move(snat));

    r.chains.push_back({kChainSnatQueue, BaseChain{"nat", Hook::Postrouting, 99},
                        {rule({oifname(wan), internal, l4proto({Proto4::Tcp, Proto4::Udp})}, queue_out),
                         rule({oifname(wan), internal, icmp_type({kEchoRequest})}, queue_out),
                         rule({ct_status_dnat(), internal, l4proto({Proto4::Tcp, Proto4::Udp})}, queue_out)}});

    // After nat (100): judge the binding.
    r.chains.push_back({kChainGuard, BaseChain{"filter", Hook::Postrouting, 110},
                        {{oifname(wan), internal, l4proto({Proto4::Icmp, Proto4::Tcp, Proto4::Udp}),
                          ct_status_no_snat(), counter(), drop()}}});

    // Conntrack events only for the NAT's own flows: generating them costs the kernel ~30 % of
    // its new-flow rate with no listener, ~60 % with one (issue 13's measurement), and the engine
    // reads nothing of the router's own, LAN-to-LAN or routed flows (classify). Whether a flow
    // is NATed is known once the nat chains ran: at postrouting for what is forwarded or sent, at
    // input for what the router receives (both before the flow is confirmed, when its NEW event
    // would go out). The NAT's flows keep their updates and DESTROY: other listeners (conntrackd)
    // read them, and dropping those measured no gain. An outbound flow whose first packet the
    // queue thread sent round (the mark, no DNAT) has no NEW event: that thread has entered it
    // in the table already (first_packets.cpp), so the event would only cost both CPUs again.
    // --conntrack-events all: every flow keeps all its events (conntrackd syncs them all).
    if (!o.conntrack_events_all) {
        Chain events{kChainEvents, BaseChain{"filter", Hook::Postrouting, kEventsPriority},
                     {{ct_state_new(), ct_status_no_nat(), ct_event_set(0)}}};
        if (!queued_flows_keep_new(o)) // an HA pair's conntrackd needs them (rules.hpp)
            events.rules.push_back({ct_state_new(), ct_status_no_dnat(), mark_has(o.mark), ct_event_set(kAllEventsButNew)});
        const bool udp = unseen_flows(o, Proto::Udp), tcp = unseen_flows(o, Proto::Tcp);
        if (udp || tcp) // new flows on existing mappings, where nothing of them is needed (rules.hpp)
            events.rules.push_back({ct_state_new(), ct_status_no_dnat(), mark_lacks(o.mark),
                                    udp && tcp ? l4proto({Proto4::Udp, Proto4::Tcp})
                                               : l4proto({udp ? Proto4::Udp : Proto4::Tcp}),
                                    ct_event_set(0)});
        r.chains.push_back(std::move(events));
        r.chains.push_back({kChainEventsLocal, BaseChain{"filter", Hook::Input, kEventsPriority},
                            {{ct_state_new(), ct_status_no_nat(), ct_event_set(0)}}});
    }
    return r;
}

} // namespace conenat::engine
