// An RFC 5389 / RFC 5780 STUN client for `conenatctl check --stun-server`: from a local address
// (the router's WAN address), runs the behaviour discovery tests against one server and
// returns what it saw. The decisions on that are conenat/util/stun_behaviour.hpp's.
#pragma once

#include "conenat/core/types.hpp"
#include "conenat/util/result.hpp"
#include "conenat/util/stun_behaviour.hpp"

#include <optional>
#include <string>

namespace conenat::ctl {

// "HOST[:PORT]" (an IPv4 address or a name; port 3478 by default): the syntax, checked before
// anything is sent. A bad one: the error names it.
struct StunServerName {
    std::string host;
    std::uint16_t port = 0;
};
Result<StunServerName> parse_stun_server(const std::string& text);
// The server's IPv4 endpoint (getaddrinfo).
Result<core::Endpoint> resolve_stun_server(const StunServerName& name);

struct StunDiscovery {
    core::Endpoint server;                 // the primary address the tests started from
    stun::MappingTests mapping;            // from one socket
    std::optional<core::Endpoint> other;   // the server's OTHER-ADDRESS (RFC 5780 §7.4)
    bool rfc5780 = false;                  // the server gave an OTHER-ADDRESS usable for the tests
    bool change_request_refused = false;   // it answered CHANGE-REQUEST with an error, or from the wrong place
    stun::FilteringTests filtering;        // from a fresh socket
};

// Runs the tests from `local` (port 0: any). Retransmits per RFC 5389 §7.2.1 with RTO 500 ms,
// bounded to Rc = 4 sends and a last wait of Rm = 4 RTO: a transaction gives up after 5.5 s.
// An error: no socket, or the local address cannot be bound; no answer is a result.
Result<StunDiscovery> discover(core::Ipv4 local, core::Endpoint server);

} // namespace conenat::ctl
