#include "conenat/core/nat/config.hpp"

#include "conenat/core/nat/counters.hpp"

namespace conenat::core {

Policy policy_of(NatType type) {
    using B = Behaviour;
    switch (type) {
    case NatType::FullCone: return {B::EndpointIndependent, B::EndpointIndependent};
    case NatType::RestrictedCone: return {B::EndpointIndependent, B::AddressDependent};
    case NatType::PortRestrictedCone: return {B::EndpointIndependent, B::AddressAndPortDependent};
    case NatType::Symmetric: return {B::AddressAndPortDependent, B::AddressAndPortDependent};
    }
    return {};
}

std::optional<NatType> parse_nat_type(std::string_view name) {
    for (NatType t : {NatType::FullCone, NatType::RestrictedCone, NatType::PortRestrictedCone, NatType::Symmetric})
        if (name == to_string(t)) return t;
    return std::nullopt;
}

std::optional<Behaviour> parse_behaviour(std::string_view name) {
    if (name == "endpoint-independent" || name == "eim" || name == "eif") return Behaviour::EndpointIndependent;
    if (name == "address-dependent" || name == "adm" || name == "adf") return Behaviour::AddressDependent;
    if (name == "address-and-port-dependent" || name == "apdm" || name == "apdf")
        return Behaviour::AddressAndPortDependent;
    return std::nullopt;
}

std::string_view to_string(NatType type) {
    switch (type) {
    case NatType::FullCone: return "full-cone";
    case NatType::RestrictedCone: return "restricted-cone";
    case NatType::PortRestrictedCone: return "port-restricted-cone";
    case NatType::Symmetric: return "symmetric";
    }
    return "?";
}

std::string_view to_string(Behaviour b) {
    switch (b) {
    case Behaviour::EndpointIndependent: return "endpoint-independent";
    case Behaviour::AddressDependent: return "address-dependent";
    case Behaviour::AddressAndPortDependent: return "address-and-port-dependent";
    }
    return "?";
}

std::string_view validate(const NatConfig& c) {
    if (c.pool.ports.empty()) return "ports: the external port set is empty";
    if (c.pool.block_size > c.pool.ports.size()) return "port-block-size: larger than the port set";
    if (c.timeouts.udp_ms < kMinUdpTimeoutMs) return "udp-timeout: RFC 4787 REQ-5 forbids less than 120 s";
    if (c.timeouts.udp_short_ms && c.timeouts.udp_short_ports.none())
        return "udp-short-ports: the ports the short UDP timeout is for (RFC 4787 REQ-5a)";
    if (c.timeouts.udp_short_ms > c.timeouts.udp_ms) return "udp-short-timeout: longer than udp-timeout";
    if (c.timeouts.icmp_ms == 0 || c.timeouts.tcp_established_ms == 0 || c.timeouts.tcp_transitory_ms == 0)
        return "timeouts: must be positive";
    if (c.max_mappings == 0) return "max-mappings: must be positive";
    if (c.max_mappings > (1u << 26)) return "max-mappings: at most 67108864";
    if (c.max_sessions > (1u << 27)) return "max-sessions: at most 134217728";
    for (const Forward& f : c.forwards)
        if (f.proto == Proto::Icmp) return "forward: only udp and tcp can be forwarded";
    return {};
}

std::string_view to_string(Counter c) {
    switch (c) {
#define CONENAT_COUNTER_NAME(name, help) \
    case Counter::name: return #name;
        CONENAT_COUNTERS(CONENAT_COUNTER_NAME)
#undef CONENAT_COUNTER_NAME
    case Counter::count_: break;
    }
    return "?";
}

std::string_view help(Counter c) {
    switch (c) {
#define CONENAT_COUNTER_HELP(name, help) \
    case Counter::name: return help;
        CONENAT_COUNTERS(CONENAT_COUNTER_HELP)
#undef CONENAT_COUNTER_HELP
    case Counter::count_: break;
    }
    return "?";
}

} // namespace conenat::core
