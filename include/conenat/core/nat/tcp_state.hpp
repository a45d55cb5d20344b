// The simplified TCP state machine of RFC 7857 §2 (from RFC 6146 §3.5.2), per connection.
#pragma once

#include "conenat/core/types.hpp"

#include <cstdint>
#include <string_view>

namespace conenat::core {

enum class TcpState : std::uint8_t {
    None,        // a filter permit, not a connection
    SynOut,      // SYN seen from inside (RFC 6146 V4 INIT)
    SynIn,       // SYN seen from outside, allowed by the filter
    Established,
    FinOut,      // FIN from inside only (half-closed: keeps the established timer)
    FinIn,       // FIN from outside only
    FinBoth,
    Trans,       // after an RST, or picked up mid-stream: 4 min unless traffic resumes (RFC 7857 §2.2)
};

// The state after a packet with TCP `flags` crossing in `dir`. An RST must already have
// been judged genuine by the caller (RFC 7857 §2.2 asks the NAT to check that).
TcpState tcp_next(TcpState s, Direction dir, std::uint8_t flags);
// Established and half-closed connections get the established timeout; all others are transitory.
bool tcp_long_lived(TcpState s);
std::string_view to_string(TcpState s);

} // namespace conenat::core
