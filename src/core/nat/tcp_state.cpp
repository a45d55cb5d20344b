#include "conenat/core/nat/tcp_state.hpp"

#include "conenat/core/packet/parse.hpp"

namespace conenat::core {

TcpState tcp_next(TcpState s, Direction dir, std::uint8_t flags) {
    const bool out = dir == Direction::Outbound;
    if (flags & tcp_flag::Rst) return TcpState::Trans;
    if (flags & tcp_flag::Syn) {
        switch (s) {
        case TcpState::None:
        case TcpState::Trans:
        case TcpState::FinBoth: // a new connection reusing the 4-tuple
            return out ? TcpState::SynOut : TcpState::SynIn;
        case TcpState::SynOut: // RFC 5382 REQ-2a: simultaneous open, or the SYN-ACK
            return out ? TcpState::SynOut : TcpState::Established;
        case TcpState::SynIn:
            return out ? TcpState::Established : TcpState::SynIn;
        default:
            return s;
        }
    }
    if (flags & tcp_flag::Fin) {
        switch (s) {
        case TcpState::FinIn: return out ? TcpState::FinBoth : s;
        case TcpState::FinOut: return out ? s : TcpState::FinBoth;
        case TcpState::FinBoth: return s;
        default: return out ? TcpState::FinOut : TcpState::FinIn;
        }
    }
    // RFC 7857 §2.2: traffic after an RST means the connection lives on.
    return s == TcpState::Trans ? TcpState::Established : s;
}

bool tcp_long_lived(TcpState s) {
    return s == TcpState::Established || s == TcpState::FinOut || s == TcpState::FinIn;
}

std::string_view to_string(TcpState s) {
    switch (s) {
    case TcpState::None: return "none";
    case TcpState::SynOut: return "syn-out";
    case TcpState::SynIn: return "syn-in";
    case TcpState::Established: return "established";
    case TcpState::FinOut: return "fin-out";
    case TcpState::FinIn: return "fin-in";
    case TcpState::FinBoth: return "fin-both";
    case TcpState::Trans: return "trans";
    }
    return "?";
}

} // namespace conenat::core
