// The queue engine's nftables table: takes the NAT's traffic out of conntrack and sends it,
// both directions, through NFQUEUE to the worker that owns its state.
//
// table ip <table> {                              (<int>: the internal prefix, or a set of them)
//   set external { ipv4_addr }                    the external addresses
//   map in_ports, hp_ports { inet_service : verdict; interval }   external port -> worker chain
//   map out_hosts, hp_hosts { ipv4_addr : verdict }               internal host -> worker chain
//   set dnat_replies { ipv4_addr . inet_proto . inet_service . ipv4_addr . inet_service;
//                      flags dynamic,timeout }    replies of the user's own DNAT flows (rule_parts.hpp)
//   chain in<k>  { notrack counter queue num <main k> }            inbound, prerouting
//   chain out<k> { counter queue num <main k> }                    outbound, postrouting
//   chain hp<k>  { notrack counter queue num <hairpin k> }         hairpinned, prerouting
//   chain pre { type filter hook prerouting priority raw (-300);
//     iifname <wan> ip saddr <int> ip daddr @external counter drop   -- spoofed internal source
//     ip daddr @external socket transparent <= 1 accept     -- the router's own sockets: not NAT
//     meta mark & M == M ip daddr @external <key> vmap @hp_ports        -- hairpin, second half
//     iifname != <wan> ip saddr <int> ip daddr @external ... <host> vmap @hp_hosts  -- hairpin
//     ip daddr @external <key> vmap @in_ports       -- inbound; <key>: th dport | icmp id (echo
//                                                      reply) | the quoted source port (errors)
//     iifname != <wan> ip saddr <int> <flow> @dnat_replies accept  -- a user DNAT's reply: the kernel's
//     iifname != <wan> ip saddr <int> fib daddr oifname <wan> notrack   -- outbound, queued below
//   }
//   chain dnat_flows { type filter hook forward priority filter;   -- each packet of a flow the kernel
//     ct status dnat ... update @dnat_replies { <its reply's flow> timeout 3h | 5m }   DNATed
//   }
//   chain post { type filter hook postrouting priority srcnat (100);
//     oifname <wan> ip saddr <int> ct state untracked <host> vmap @out_hosts
//     oifname <wan> ip saddr @external icmp <error about an internal host> <host> vmap @out_hosts
//   }
//   chain output { type filter hook output priority raw; meta mark & M == M notrack }
// }
// Source rewriting waits for postrouting: a packet with a local source arriving on the LAN
// would fail the routing's martian-source check. Destination rewriting must come before the
// routing decision, so inbound (and hairpinned) packets are queued in prerouting. Hairpinned
// packets go to their own queue without NFQA_CFG_F_GSO (the kernel segments them), because the
// engine re-injects them through a raw socket (a local source address again).
#pragma once

#include "conenat/engine/config.hpp"
#include "conenat/io/nft_rules.hpp"
#include "engine/software/shard_plan.hpp"

#include <cstdint>

namespace conenat::engine {

// Worker k's queues: main (with GSO) and hairpin.
inline std::uint16_t main_queue(const EngineConfig& o, unsigned worker) {
    return std::uint16_t(o.queue_out + 2 * worker);
}
inline std::uint16_t hairpin_queue(const EngineConfig& o, unsigned worker) {
    return std::uint16_t(o.queue_out + 2 * worker + 1);
}

// The table for `config` sharded by `plan`, queueing by `queueing` (Elsewhere: the worker
// chains only take the packets out of conntrack, and the base chains run before iptables' raw
// table, whose NFQUEUE rules in examples/iptables-queue.sh match those untracked packets).
io::nft::RuleSet queue_rules(const EngineConfig& config, const ShardPlan& plan, io::nft::Queueing queueing);

} // namespace conenat::engine
