// Steering: which worker a packet belongs to, decided on its PacketView before or after the core
// sees it — the worker that owns its state, and which packets to our addresses are the
// router's own. Pure: unit-tested.
#pragma once

#include "conenat/core/nat/counters.hpp"
#include "conenat/core/packet/parse.hpp"
#include "shard_plan.hpp"

#include <cstdint>
#include <optional>
#include <span>

namespace conenat::engine {

// The external port (or ICMP identifier) an inbound packet names: TCP/UDP destination port,
// echo reply identifier, or the source port of the packet an ICMP error quotes (when that
// packet left from `is_external` addresses). None for anything else.
template <typename IsExternal>
std::optional<std::uint16_t> inbound_key(const core::PacketView& v, IsExternal&& is_external) {
    switch (v.kind) {
    case core::PacketKind::Udp:
    case core::PacketKind::Tcp:
    case core::PacketKind::IcmpQuery:
        return v.dst.port;
    case core::PacketKind::IcmpError:
        if (is_external(v.inner.src.addr))
            return v.inner.src.port;
        return std::nullopt;
    default:
        return std::nullopt;
    }
}

// A hairpinned packet after its outbound half (its source is now the sender's external
// endpoint): the external port its inbound half needs — TCP/UDP to one of our addresses, or an
// ICMP error quoting a packet of ours. None for anything else.
template <typename IsExternal>
std::optional<std::uint16_t> hairpin_key(const core::PacketView& v, IsExternal&& is_external) {
    if ((v.kind == core::PacketKind::Udp || v.kind == core::PacketKind::Tcp) && is_external(v.src.addr) &&
        is_external(v.dst.addr))
        return v.dst.port;
    if (v.kind == core::PacketKind::IcmpError && is_external(v.src.addr) && is_external(v.inner.src.addr))
        return v.inner.src.port;
    return std::nullopt;
}

// ICMP that may belong to the router itself (an echo reply for its own ping, an error about
// one of its own flows): the core found no mapping of ours (`reason`) for the packet it saw as `v`,
// so the router's stack gets it.
bool router_icmp(core::Counter reason, const core::PacketView& v);

// The worker that reassembles a fragmented datagram: all its fragments, whatever their order,
// go to one worker (by source, destination, protocol and identification).
unsigned fragment_owner(std::span<const std::uint8_t> pkt, unsigned workers);

// Where a packet read from a device that does not know directions (the TUN device) goes.
struct Arrival {
    core::Direction dir = core::Direction::Outbound;
    unsigned owner = 0;   // the worker that owns its state
    bool router = false;  // to our address, but none of the NAT's ports: the router's own
};

// One worker's view of the shard plan: who owns what, by the NAT's addresses and internal net.
class Steering {
public:
    Steering(const ShardPlan& plan, unsigned self, std::vector<core::Prefix> internal);

    unsigned self() const { return m_self; }
    // A reconfigure's internal prefixes (the plan itself is the engine's, updated in place).
    void set_internal(std::vector<core::Prefix> internal) { m_internal = std::move(internal); }
    bool is_external(core::Ipv4 a) const;
    bool is_internal(core::Ipv4 a) const {
        for (const core::Prefix& p : m_internal)
            if (p.contains(a))
                return true;
        return false;
    }

    // A packet as it arrives: outbound from inside (or the router's own ICMP error about a
    // packet we delivered inside), by its host; inbound by the external port it names.
    Arrival arrival(const core::PacketView& v) const;
    // A hairpinned packet after its outbound half here: the worker that owns its inbound half,
    // when that is another one (none: this worker does both halves, or it is no hairpin).
    std::optional<unsigned> hairpin_owner(const core::PacketView& v) const;

private:
    const ShardPlan& m_plan;
    unsigned m_self;
    std::vector<core::Prefix> m_internal;
};

} // namespace conenat::engine
