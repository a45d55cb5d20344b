// RFC 5780 behaviour discovery, the decisions only: what the answers of the mapping tests
// (§4.3) and filtering tests (§4.4) say about the NAT in front of the client. Pure; the client
// (src/ctl/stun_client) sends the requests and fills these in.
#pragma once

#include "conenat/core/types.hpp"

#include <optional>
#include <string>

namespace conenat::stun {

enum class Behaviour : std::uint8_t { EndpointIndependent, AddressDependent, AddressAndPortDependent, Unknown };

// What the mapping tests saw: the mapped address of test I (to the primary address), II (the
// other address, primary port) and III (the other address and port), from one local socket.
struct MappingTests {
    core::Endpoint local;
    std::optional<core::Endpoint> test1, test2, test3;
};
// What the filtering tests saw from a fresh socket: test I answered (with an OTHER-ADDRESS),
// test II (CHANGE-REQUEST ip+port) and test III (port only) answered from where they should.
struct FilteringTests {
    bool test1 = false, test2 = false, test3 = false;
};

// No NAT between the client and the server: the server saw the client's own address and port.
bool no_nat(const MappingTests& t);
// §4.3: EIM when II == I, ADM when III == II, else APDM; Unknown while an answer is missing.
Behaviour mapping_behaviour(const MappingTests& t);
// §4.4: EIF when II came, ADF when only III came, APDF when neither; Unknown without test I.
Behaviour filtering_behaviour(const FilteringTests& t);
// "endpoint-independent", "address-dependent", "address-and-port-dependent", "unknown".
std::string to_string(Behaviour b);

} // namespace conenat::stun
