#include "steering.hpp"

#include "conenat/core/packet/icmp_build.hpp"
#include "conenat/core/packet/ipv4_header.hpp"

#include <algorithm>

namespace conenat::engine {

bool router_icmp(core::Counter reason, const core::PacketView& v) {
    if (reason == core::Counter::drop_icmp_no_mapping)
        return true;
    return reason == core::Counter::drop_no_mapping && v.kind == core::PacketKind::IcmpQuery &&
           v.icmp_type == core::icmp::EchoReply;
}

unsigned fragment_owner(std::span<const std::uint8_t> pkt, unsigned workers) {
    if (workers <= 1)
        return 0;
    return unsigned((core::datagram_hash(pkt) >> 32) % workers);
}

Steering::Steering(const ShardPlan& plan, unsigned self, std::vector<core::Prefix> internal)
    : m_plan(plan), m_self(self), m_internal(std::move(internal)) {}

bool Steering::is_external(core::Ipv4 a) const { return m_plan.configs[m_self].pool.is_external(a); }

Arrival Steering::arrival(const core::PacketView& v) const {
    Arrival a;
    a.owner = m_self;
    // From inside; or the router's own ICMP error about a packet we delivered inside.
    const bool router_error = v.kind == core::PacketKind::IcmpError && is_internal(v.inner.dst.addr);
    a.dir = is_internal(v.src.addr) || router_error ? core::Direction::Outbound : core::Direction::Inbound;
    if (a.dir == core::Direction::Outbound) {
        const std::uint8_t w = m_plan.worker_of_host(router_error ? v.inner.dst.addr : v.src.addr);
        if (w != kNoWorker)
            a.owner = w;
    } else if (const auto key = inbound_key(v, [this](core::Ipv4 x) { return is_external(x); })) {
        const std::uint8_t w = m_plan.worker_of_port(*key);
        if (w == kNoWorker)
            a.router = true; // not one of the NAT's ports
        else
            a.owner = w;
    }
    return a;
}

std::optional<unsigned> Steering::hairpin_owner(const core::PacketView& v) const {
    const auto key = hairpin_key(v, [this](core::Ipv4 a) { return is_external(a); });
    if (!key)
        return std::nullopt;
    const std::uint8_t owner = m_plan.worker_of_port(*key);
    if (owner == kNoWorker || owner == m_self)
        return std::nullopt;
    return owner;
}

} // namespace conenat::engine
