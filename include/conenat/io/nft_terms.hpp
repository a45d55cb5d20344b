// The terms conenatd's rules are written in (nft_rules.hpp): each one's text is what
// `nft list` prints for the expressions it builds.
#pragma once

#include "conenat/core/nat/port_set.hpp"
#include "conenat/core/types.hpp"
#include "conenat/io/nft_rules.hpp"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace conenat::io::nft {

enum class Cmp : std::uint8_t { Eq, Neq };
enum class Proto4 : std::uint8_t { Icmp = 1, Tcp = 6, Udp = 17 };

// ---- matches ----
Term iifname(const std::string& name, Cmp op = Cmp::Eq);
Term oifname(const std::string& name);
Term saddr_in(core::Ipv4 net, unsigned prefix, Cmp op = Cmp::Eq); // ip saddr 10.0.0.0/24
Term daddr_in(core::Ipv4 net, unsigned prefix, Cmp op = Cmp::Eq);
// Any of several networks: one as the single-prefix term; more as an anonymous interval set
// `ip saddr { 10.0.0.0/24, 10.1.0.0/24 }` (adjacent ones merged, as nft lists them).
Term saddr_in(const std::vector<core::Prefix>& nets, Cmp op = Cmp::Eq);
Term daddr_in(const std::vector<core::Prefix>& nets, Cmp op = Cmp::Eq);
Term saddr_in_set(const std::string& set); // ip saddr @set
Term daddr_in_set(const std::string& set);
Term fragment();                          // ip frag-off & 16383 (0x3fff) != 0: not a whole datagram
Term local_socket();                      // a local socket (transparent or not) takes it
Term l4proto(std::initializer_list<Proto4> protos); // meta l4proto udp / { tcp, udp }
Term dport_in(Proto4 proto, const std::vector<core::PortRange>& ports); // udp dport { 20000-29999 }
Term sport_in(Proto4 proto, const std::vector<core::PortRange>& ports); // udp sport 51820
Term th_dport_in(const std::vector<core::PortRange>& ports); // th dport { ... } (after l4proto)
Term icmp_type(std::initializer_list<std::uint8_t> types);
Term icmp_id_in(const std::vector<core::PortRange>& ids);
Term fib_daddr_oif(const std::string& name); // fib daddr oifname "wan0": routed out of it
Term mark_has(std::uint32_t mark);           // meta mark & M == M
Term mark_lacks(std::uint32_t mark);         // meta mark & M == 0
Term ct_status_dnat();                       // ct status dnat
Term ct_status_no_snat();                    // ct status ! snat (not source-NATed)
Term ct_status_no_dnat();                    // ct status ! dnat (not destination-NATed)
Term ct_untracked();                         // ct state untracked
Term ct_state_new();                         // ct state new (the flow's first packets: not confirmed yet)
Term ct_status_no_nat();                     // ct status ! snat,dnat (neither bit)
Term ct_original();                          // ct direction original
Term ct_reply();                             // ct direction reply
// A TCP or UDP packet's flow as `ip saddr . meta l4proto . th sport . ip daddr . th dport`
// (`reversed`: the flow of its reply: destination first) is in the set.
Term flow_in_set(const std::string& set, bool reversed = false);
// An ICMP error quotes an IPv4 header without options ...
Term quoted_header_plain();
// ... whose protocol is one of these.
Term quoted_proto(std::initializer_list<Proto4> protos);
// ... and whose destination is in net/prefix.
Term quoted_daddr_in(core::Ipv4 net, unsigned prefix);
Term quoted_daddr_in(const std::vector<core::Prefix>& nets); // any of them (one: as above)

// ---- dispatch through a verdict map ----
enum class Key : std::uint8_t {
    ThDport,        // th dport
    IcmpId,         // icmp id
    QuotedSport,    // the quoted transport header's source port
    QuotedEchoId,   // the quoted echo's identifier
    Saddr,          // ip saddr
    SaddrLowByte,   // ip saddr & 0.0.0.255
    QuotedDaddr,    // the quoted destination
    QuotedDaddrLowByte,
};
Term vmap(Key key, const std::string& map);
// The key (a port: ThDport .. QuotedEchoId) is in `ports`: `th dport 20000-29999`.
Term key_in(Key key, const std::vector<core::PortRange>& ports);

// ---- statements ----
Term counter(); // printed as a fresh table lists it: "counter packets 0 bytes 0"
Term notrack();
Term accept();
Term drop();
Term goto_chain(const std::string& chain);
Term mark_set_bits(std::uint32_t mark);  // meta mark set meta mark | M
// The conntrack events (a mask of 1 << IPCT_*) the flow may generate from now on: `ct event set
// 0x0` (none), `ct event set new,destroy`. Set before the flow is confirmed, it decides its NEW event too.
Term ct_event_set(std::uint32_t events);
// A `proto` packet's flow (as flow_in_set) added to the set, or its timeout restarted:
// `update @set { ip saddr . meta l4proto . tcp sport . ip daddr . tcp dport timeout 3h }`
// (the protocol match comes with it: nft lists it as the ports' dependency).
Term update_flow(const std::string& set, bool reversed, Proto4 proto, std::uint32_t timeout_s);
// NFQUEUE `num`: the nft queue statement when `native`, else the xt NFQUEUE target. With
// `bypass` a packet passes when nobody listens; without it, it is dropped.
Term queue(std::uint16_t num, bool native, bool bypass = false);
// dnat / snat to the endpoint a map (concatenated key of these fields) gives; snat_map of
// UDP / TCP matches the protocol first (dnat_map follows a dport_in that does).
Term dnat_map(Proto4 proto, const std::vector<Field>& key, const std::string& map);
Term snat_map(Proto4 proto, const std::vector<Field>& key, const std::string& map);
// dnat / snat to one endpoint: `dnat to 10.0.0.10:51820` (after a transport match).
Term dnat_to(core::Endpoint to);
Term snat_to(core::Endpoint to);

} // namespace conenat::io::nft
