// The kernel fast path of the conntrack engine: conenatd's own nftables table, programmed
// with libnftnl in ACKed batches (never by running nft/iptables). See docs in RuleSetSpec.
#pragma once

#include "conenat/core/nat/config.hpp"
#include "conenat/io/nat_scope.hpp"
#include "conenat/io/queue_rules.hpp"
#include "conenat/io/tun_rules.hpp"
#include "conenat/util/result.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace conenat::io {

// Everything the rule set depends on. The table it describes (nft syntax; `render` prints it):
//
// table ip <table> {
//   map snat_udp { key: ip saddr . udp sport [. ip daddr [. udp dport]] (by udp mapping behaviour)
//                  data: ipv4_addr . inet_service }                       -- internal -> external
//   map snat_tcp { same for tcp }     map snat_icmp { ip saddr . icmp id [. ip daddr] : ipv4_addr . inet_service }
//   map dnat_udp { ip daddr . udp dport : ipv4_addr . inet_service }      -- external -> internal
//   map dnat_tcp { same for tcp }
//   chain dnat_map { type nat hook prerouting priority -102;
//     ip daddr @external [meta mark & M == M when that protocol filters] udp dport <ports>
//        dnat ip to ip daddr . udp dport map @dnat_udp          (same for tcp)
//   }
//   chain dnat_queue { type nat hook prerouting priority -101;   -- first packets dnat_map let through
//     ip daddr @external meta l4proto {udp, tcp} th dport <ports> meta mark & M == 0 counter queue num <queue_in>
//   }
//   chain snat_map { type nat hook postrouting priority 98;
//     oifname <wan> ip saddr <internal> udp: snat ip to <key> map @snat_udp      (tcp; icmp echo-request)
//     ct status dnat ip saddr <internal> ...: the same three rules (hairpinned flows)
//   }
//   chain snat_queue { type nat hook postrouting priority 99;    -- first packets of unknown endpoints
//     oifname <wan> ip saddr <internal> meta l4proto {udp, tcp} meta mark & M == 0 counter queue num <queue_out>
//     oifname <wan> ip saddr <internal> icmp type echo-request meta mark & M == 0 counter queue num <queue_out>
//     ct status dnat ip saddr <internal> meta l4proto {udp, tcp} meta mark & M == 0 counter queue num <queue_out>
//   }
//   chain guard { type filter hook postrouting priority 110;     -- after nat: nothing leaves with an internal source
//     oifname <wan> ip saddr <internal> meta l4proto {udp, tcp, icmp} ct status & snat == 0 counter drop
//   }
// }
// Both nat chains run before iptables' nat chains (priority -100 / 100), and a nat chain that
// binds stops the others, so only first packets the maps cannot translate reach a queue.
// "queue" is the native nft statement when the kernel has it, else the xt NFQUEUE target
// (nft_compat), always with bypass off: no daemon, no new flows. Answer a queued packet with
// Verdict::Repeat (after adding its elements, or with the permit mark): the nat hook runs
// again and the map chain binds; Accept would let it pass without NAT (the guard drops it).
// The chains are not named "dnat"/"snat": nft (1.0.6) cannot parse those keywords as names.
struct RuleSetSpec : NatScope {
    core::Behaviour udp_mapping{}, tcp_mapping{}, icmp_mapping{};
    bool udp_filters = false, tcp_filters = false; // dnat needs the permit mark
    std::uint32_t permit_mark = 0x00100000; // mark bit set by the queue verdict on permitted packets
    std::uint16_t queue_out = 0, queue_in = 1;
    bool native_queue = false;              // nft `queue` statement (else xt NFQUEUE)
};

// One mapping's map elements: snat (key from internal [+ remote], by the protocol's mapping
// behaviour) -> external, and for UDP/TCP dnat external -> internal.
struct MappingElement {
    core::Proto proto = core::Proto::Udp;
    core::Endpoint internal, remote, external; // remote: only the parts the mapping key uses
};

// Counters of the rule set (from its `counter` statements).
struct RuleCounters {
    std::uint64_t queued_out = 0, queued_in = 0, guard_drops = 0;
    std::uint64_t spoof_drops = 0; // internal sources arriving on the WAN
};

class Nftables {
public:
    static Result<Nftables> open();
    Nftables(Nftables&&) noexcept;
    Nftables& operator=(Nftables&&) noexcept;
    ~Nftables();

    // Whether this kernel has the native nft queue statement (probed once in a scratch table).
    bool has_native_queue();
    // Replaces any table of that name with the rule set of `spec`, in one ACKed batch.
    Status install(const RuleSetSpec& spec);
    // The same for the queue engine's table (queue_rules.hpp); no map elements follow.
    Status install(const QueueRuleSpec& spec);
    // The tun engine's table (tun_rules.hpp).
    Status install(const TunRuleSpec& spec);
    // Deletes the table (absent is fine). Everything of ours goes with it.
    Status remove(const std::string& table);
    // Adds / deletes the elements of these mappings in ACKed batches (split to fit messages).
    // Re-adding an element is fine; one whose key exists with other data replaces it.
    // Deleting absent elements is fine and does not stop the others.
    Status add(std::span<const MappingElement> mappings);
    Status remove_elements(std::span<const MappingElement> mappings);
    Result<RuleCounters> counters();
    // The nft-syntax text of the rule set (for --print-rules and the docs).
    static std::string render(const RuleSetSpec& spec);
    static std::string render(const QueueRuleSpec& spec);
    static std::string render(const TunRuleSpec& spec);

private:
    struct Impl;
    explicit Nftables(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
    RuleSetSpec m_spec; // of the installed table: element layouts follow it
};

} // namespace conenat::io
