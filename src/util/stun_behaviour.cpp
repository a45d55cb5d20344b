// RFC 5780 §4.3 / §4.4 decisions on the answers the client collected.
#include "conenat/util/stun_behaviour.hpp"

namespace conenat::stun {

bool no_nat(const MappingTests& t) { return t.test1 && *t.test1 == t.local; }

Behaviour mapping_behaviour(const MappingTests& t) {
    if (!t.test1 || !t.test2)
        return Behaviour::Unknown;
    if (*t.test2 == *t.test1)
        return Behaviour::EndpointIndependent;
    if (!t.test3)
        return Behaviour::Unknown;
    return *t.test3 == *t.test2 ? Behaviour::AddressDependent : Behaviour::AddressAndPortDependent;
}

Behaviour filtering_behaviour(const FilteringTests& t) {
    if (!t.test1)
        return Behaviour::Unknown;
    if (t.test2)
        return Behaviour::EndpointIndependent;
    return t.test3 ? Behaviour::AddressDependent : Behaviour::AddressAndPortDependent;
}

std::string to_string(Behaviour b) {
    switch (b) {
    case Behaviour::EndpointIndependent: return "endpoint-independent";
    case Behaviour::AddressDependent: return "address-dependent";
    case Behaviour::AddressAndPortDependent: return "address-and-port-dependent";
    case Behaviour::Unknown: break;
    }
    return "unknown";
}

} // namespace conenat::stun
