// The tun engine's nftables table: picks the NAT's traffic, takes it out of conntrack and
// marks it, so that a policy rule (installed by the engine over rtnetlink) routes it into the
// TUN device.
//
// table ip <table> {                              (<int>: the internal prefix, or a set of them)
//   set external { ipv4_addr }                          the external addresses
//   set dnat_replies { <flow>; flags dynamic,timeout }  replies of the user's own DNAT flows (rule_parts.hpp)
//   chain steer { meta mark set meta mark | M notrack counter accept }
//   chain pre { type filter hook prerouting priority raw (-300);
//     iifname <tun> notrack counter accept               -- translated by the engine: routed as it is
//     iifname <wan> ip saddr <int> ip daddr @external counter drop   -- spoofed internal source
//     ip daddr @external ip frag-off & 0x3fff != 0 goto steer   -- fragments (the engine reassembles)
//     ip daddr @external socket transparent <= 1 accept  -- the router's own sockets
//     ip daddr @external meta l4proto { tcp, udp } th dport { <pool, forwards> } goto steer  -- inbound, hairpin
//     ip daddr @external icmp type echo-reply icmp id { <pool> } goto steer
//     ip daddr @external icmp type { 3, 11, 12 } goto steer  -- errors (the engine returns the
//                                                           router's own to it untouched)
//     iifname != <wan> ip saddr <int> <flow> @dnat_replies accept  -- a user DNAT's reply: the kernel's
//     iifname != <wan> ip saddr <int> fib daddr oifname <wan> goto steer   -- outbound
//   }
//   chain dnat_flows { type filter hook forward priority filter;   -- each packet of a flow the kernel
//     ct status dnat ... update @dnat_replies { <its reply's flow> timeout 3h | 5m }   DNATed
//   }
//   chain output { type route hook output priority raw;   -- the router's own ICMP errors about
//     ip daddr != <int> icmp type { 3, 11, 12 } @th,192,32 <int> goto steer  -- packets we delivered
//   }
// }
// and, outside nftables: `ip rule add pref P fwmark M/M lookup T`, `ip route add default dev
// <tun> table T`, the `lookup local` rule moved from priority 0 to behind P (the external
// address is local: without the move, inbound packets would be delivered to the router).
#pragma once

#include "conenat/engine/config.hpp"
#include "conenat/io/nft_rules.hpp"

#include <string>

namespace conenat::engine {

// The table for `config`, steering into the device `tun_if`.
io::nft::RuleSet tun_rules(const EngineConfig& config, const std::string& tun_if);

} // namespace conenat::engine
