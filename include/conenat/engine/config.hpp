// What an engine is told to do: the NAT's behaviour, where it sits (WAN interface, internal
// network, its own nftables table) and the engine's own knobs. The daemon's Options extend it
// with what only the process needs (pid file, log level, ...); engines never see those.
#pragma once

#include "conenat/core/nat/config.hpp"
#include "conenat/core/types.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace conenat::engine {

enum class EngineKind : std::uint8_t { Conntrack, Queue, Tun };

struct EngineConfig {
    EngineKind engine = EngineKind::Conntrack;
    core::NatConfig nat;              // types, timers, pool, limits
    std::string external_if;
    // true: nat.pool.external_addrs are the WAN interface's IPv4 addresses and follow it (address
    // added or removed, PPPoE's interface gone and back); false: --external-ip named them.
    bool external_from_if = true;
    std::vector<core::Prefix> internal; // the LAN prefixes (--internal-net, repeatable), each NATed
    bool is_internal(core::Ipv4 a) const {
        return std::any_of(internal.begin(), internal.end(), [a](const core::Prefix& p) { return p.contains(a); });
    }
    bool rules_auto = true;           // install (and remove) the rule set; else the user's (--rules manual)
    std::string table = "conenatd";   // the nftables table the engine owns
    // The one packet-mark bit conenatd owns (--mark). The conntrack engine sets it on first
    // packets it permits inbound; the queue engine on packets it hands between workers and
    // on its own sends; the tun engine on packets it routes into the device.
    std::uint32_t mark = 0x00100000;
    // conntrack engine
    std::uint16_t queue_out = 0, queue_in = 1;
    std::uint32_t queue_maxlen = 4096;
    std::size_t event_buffer = 8u << 20; // kernel-facts: 8 MiB lost no event in bursts
    std::uint32_t resync_interval_s = 120;
    // false: conntrack events only for the NAT's own flows (the events chains); true: for every
    // flow, so conntrackd also syncs the ones routed without NAT (--conntrack-events all).
    bool conntrack_events_all = false;
    // One router of an HA pair (examples/ha/) when non-zero, with --external-ip: standby while
    // the WAN lacks it; for this long after it comes, first packets wait for the synced flows.
    std::uint32_t takeover_grace_ms = 0;
    // software engines (queue, tun)
    unsigned queues = 1;              // workers
    bool fail_open = false;           // queue engine: a full (or unbound) queue passes packets untranslated
    std::string tun_name = "conenat0";
};

} // namespace conenat::engine
