// The kernel side of the queue engine: conenatd's nftables table that takes the NAT's traffic
// out of conntrack and sends it, both directions, through NFQUEUE to the worker that owns its
// state. Installed by Nftables::install(QueueRuleSpec), printed by Nftables::render.
//
// table ip <table> {
//   set external { ipv4_addr }                    the external addresses
//   map in_ports, hp_ports { inet_service : verdict; interval }   external port -> worker chain
//   map out_hosts, hp_hosts { ipv4_addr : verdict }               internal host -> worker chain
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
//     iifname != <wan> ip saddr <int> fib daddr oifname <wan> notrack   -- outbound, queued below
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

#include "conenat/io/nat_scope.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace conenat::io {

// Keys [first, last] go to worker `worker`.
struct KeyRange {
    std::uint32_t first = 0, last = 0;
    std::uint16_t worker = 0;
};

struct QueueRuleSpec : NatScope {
    // Outbound key: LowByte — the internal host address's last byte (hosts = 0..255);
    // Address — the whole address (hosts = address intervals, RFC 7422 blocks).
    enum class HostKey : std::uint8_t { LowByte, Address } host_key = HostKey::LowByte;
    std::vector<KeyRange> hosts; // internal host key -> worker
    std::vector<KeyRange> ports; // external port / ICMP identifier -> worker (the pool only)
    unsigned workers = 1;
    std::uint16_t first_queue = 0; // worker k: main queue first_queue + 2k, hairpin first_queue + 2k + 1
    std::uint32_t mark = 0x00100000; // a hairpinned packet handed between workers; the daemon's own sends
    bool native_queue = false;       // nft `queue` statement (else the xt NFQUEUE target)
    bool bypass = false;             // fail-open: no listener, the packet passes untranslated

    std::uint16_t main_queue(unsigned worker) const { return std::uint16_t(first_queue + 2 * worker); }
    std::uint16_t hairpin_queue(unsigned worker) const { return std::uint16_t(first_queue + 2 * worker + 1); }
};

} // namespace conenat::io
