// The conntrack engine's nftables table: the kernel fast path. Maps translate every packet of
// a known mapping; first packets the maps cannot translate go to the engine through NFQUEUE.
//
// table ip <table> {
//   map snat_udp { key: ip saddr . udp sport [. ip daddr [. udp dport]] (by udp mapping behaviour)
//                  data: ipv4_addr . inet_service }                       -- internal -> external
//   map snat_tcp { same for tcp }     map snat_icmp { ip saddr . icmp id [. ip daddr] : ipv4_addr . inet_service }
//   map dnat_udp { ip daddr . udp dport : ipv4_addr . inet_service }      -- external -> internal
//   map dnat_tcp { same for tcp }
//   chain spoof_guard { type filter hook prerouting priority raw;   -- before conntrack sees it
//     iifname <wan> ip saddr <internal> counter drop
//   }
//   chain dnat_map { type nat hook prerouting priority dstnat - 2;
//     ip daddr <ext> udp dport <port> dnat to <internal>           (each forward; any port, any remote)
//     ip daddr @external [meta mark & M == M when that protocol filters] udp dport <ports>
//        dnat ip to ip daddr . udp dport map @dnat_udp          (same for tcp)
//   }
//   chain dnat_queue { type nat hook prerouting priority dstnat + 20;  -- first packets nobody else took
//     ip daddr @external socket transparent <= 1 accept         (the router's own sockets)
//     ip daddr @external meta l4proto {udp, tcp} th dport <ports> meta mark & M == 0 counter queue num <queue_in>
//   }
//   chain snat_map { type nat hook postrouting priority srcnat - 2;
//     oifname <wan> ip saddr <server> udp sport <port> snat to <ext>:<port>   (each forward)
//     oifname <wan> ip saddr <internal> udp: snat ip to <key> map @snat_udp      (tcp; icmp echo-request)
//     ct status dnat ip saddr <internal> ...: the same three rules (hairpinned flows)
//   }
//   chain snat_queue { type nat hook postrouting priority srcnat - 1;    -- first packets of unknown endpoints
//     oifname <wan> ip saddr <internal> meta l4proto {udp, tcp} meta mark & M == 0 counter queue num <queue_out>
//     oifname <wan> ip saddr <internal> icmp type echo-request meta mark & M == 0 counter queue num <queue_out>
//     ct status dnat ip saddr <internal> meta l4proto {udp, tcp} meta mark & M == 0 counter queue num <queue_out>
//   }
//   chain guard { type filter hook postrouting priority srcnat + 10;  -- after nat: nothing leaves with an internal source
//     oifname <wan> ip saddr <internal> meta l4proto {udp, tcp, icmp} ct status & snat == 0 counter drop
//   }
//   chain events { type filter hook postrouting priority 200;  -- after every nat chain, before confirm
//     ct state new ct status ! snat,dnat ct event set 0x0             (not the NAT's: no event at all)
//     ct state new ct status ! dnat meta mark & M == M ct event set <all but new>  (queued: no NEW)
//     ct state new ct status ! dnat meta mark & M == 0 meta l4proto <EIF protocols> ct event set 0x0
//   }                                                   (new flows on existing mappings: unseen_flows)
//   chain events_local { type filter hook input priority 200; the same rule }  -- the router's own
// }
// The map chains run before iptables' nat chains (priority -100 / 100), dnat_queue after the
// user's DNAT, and a nat chain that binds stops the others, so only first packets that neither
// the maps nor the user's own rules translate reach a queue. <internal>: one prefix, or an
// anonymous set of them ({ 10.0.0.0/24, 10.1.0.0/24 }).
// "queue" is the native nft statement when the kernel has it, else the xt NFQUEUE target
// (nft_compat), always with bypass off: no daemon, no new flows. Answer a queued packet with
// Verdict::Repeat (after adding its elements, or with the permit mark): the nat hook runs
// again and the map chain binds; Accept would let it pass without NAT (the guard drops it).
// The chains are not named "dnat"/"snat": nft (1.0.6) cannot parse those keywords as names.
#pragma once

#include "conenat/engine/config.hpp"
#include "conenat/io/nat_maps.hpp"
#include "conenat/io/nft_rules.hpp"

namespace conenat::engine {

// Chains whose counters the engine reports.
constexpr const char* kChainSnatQueue = "snat_queue";
constexpr const char* kChainDnatQueue = "dnat_queue";
constexpr const char* kChainGuard = "guard";
constexpr const char* kChainSpoofGuard = "spoof_guard";
// Chains that choose which flows generate conntrack events.
constexpr const char* kChainEvents = "events";
constexpr const char* kChainEventsLocal = "events_local";
// dstnat + 20: after the nat chains of iptables and nft firewalls (dstnat, firewalld dstnat + 10).
constexpr int kDnatQueuePriority = -80;
// After every nat chain (srcnat 100 and the guard at 110), before conntrack confirms the flow
// (INT_MAX), where its NEW event is sent.
constexpr int kEventsPriority = 200;
// The events of a flow but NEW: related, destroy, reply, assured, protoinfo, seqadj and label
// (bits 1-5, 8, 10 of the event mask). helper, mark and secmark are left out: nft cannot read
// them back in a list (`nft -f` of our --print-rules).
constexpr std::uint32_t kAllEventsButNew = 0x53e;

// Do the flows whose first packet the queue thread sent round keep their NEW event? Yes with
// --conntrack-events all, and for one router of an HA pair (--takeover-grace): conntrackd
// syncs a flow from its NEW event (an unanswered flow gives no other). Then the events thread
// enters those flows in the table (from the event), else the queue thread does.
inline bool queued_flows_keep_new(const EngineConfig& o) { return o.conntrack_events_all || o.takeover_grace_ms > 0; }

// Does a new flow of `p` on an existing mapping (the maps translate it: no queue, no mark) go
// without any event? Yes where the engine needs nothing of it: endpoint-independent filtering
// has no permit to keep, and the mapping it uses is already in the table. Its events are most
// of what the kernel spends on such a flow beyond MASQUERADE's work (issue 13: 0.69x -> 0.9x
// MASQUERADE's rate). The price: the engine does not know when the mapping's last flow ends,
// so a mapping past its timer is released only after a conntrack dump shows no flow on it
// (MappingTable's release check; events.cpp, check_release). Not for an HA pair or
// --conntrack-events all (conntrackd syncs a flow from its events).
inline bool unseen_flows(const EngineConfig& o, core::Proto p) {
    const core::Behaviour f = p == core::Proto::Udp ? o.nat.udp.filtering
                            : p == core::Proto::Tcp ? o.nat.tcp.filtering
                                                    : core::Behaviour::AddressAndPortDependent;
    return !queued_flows_keep_new(o) && f == core::Behaviour::EndpointIndependent;
}
inline bool release_check(const EngineConfig& o) {
    return unseen_flows(o, core::Proto::Udp) || unseen_flows(o, core::Proto::Tcp);
}

// The table for `config`, queueing first packets by `queueing` (Elsewhere: the queue chains
// only count them; examples/iptables-conntrack.sh queues them after these chains).
io::nft::RuleSet conntrack_rules(const EngineConfig& config, io::nft::Queueing queueing);
// The same with these maps (their key types: a finer one than the config's keeps mappings of
// an earlier behaviour programmable).
io::nft::RuleSet conntrack_rules(const EngineConfig& config, const io::NatMaps& maps, io::nft::Queueing queueing);
// Its maps (for Nftables::add).
io::NatMaps conntrack_maps(const EngineConfig& config);

} // namespace conenat::engine
