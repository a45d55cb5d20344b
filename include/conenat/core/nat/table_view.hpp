// Read-only rows of a MappingTable for operators (conenatctl mappings / sessions): what a
// mapping or session is, how long it has been idle and when it ends. Plain values: a copy
// taken by the table's owner, rendered elsewhere.
#pragma once

#include "conenat/core/nat/config.hpp"
#include "conenat/core/nat/tcp_state.hpp"
#include "conenat/core/types.hpp"

#include <cstdint>
#include <optional>

namespace conenat::core {

constexpr TimeMs kNoExpiry = ~TimeMs(0); // a forward, or a record kernel flows hold

// Which rows a listing wants: each part set must match (an endpoint's port 0 / unset: any port).
struct ViewFilter {
    std::optional<Proto> proto;
    std::optional<Endpoint> internal, external; // port 0: any port of that address
    static bool endpoint_matches(const std::optional<Endpoint>& want, Endpoint e) {
        return !want || (want->addr == e.addr && (want->port == 0 || want->port == e.port));
    }
    bool matches(Proto p, Endpoint internal_ep, Endpoint external_ep) const {
        return (!proto || *proto == p) && endpoint_matches(internal, internal_ep) &&
               endpoint_matches(external, external_ep);
    }
};

struct MappingRow {
    Proto proto{};
    Endpoint internal, external;
    Endpoint remote;       // the remote part of its key: 0.0.0.0:0 under endpoint-independent mapping
    Policy policy{};       // the behaviours it was made with
    bool forward = false;  // a static forward (permanent)
    TimeMs idle_ms = 0;    // since outbound traffic last refreshed its own timer
    TimeMs expires_in_ms = 0; // kNoExpiry: a forward, or kernel flows hold it
    std::uint32_t sessions = 0, flows = 0, inbound = 0; // session records (permits, connections), held by kernel flows, opened from outside
};

struct SessionRow {
    Proto proto{};
    Endpoint internal, external, remote;
    TcpState tcp = TcpState::None; // None: a filter permit
    bool inbound = false;          // opened from outside
    std::uint32_t flows = 0;       // kernel flows holding it (conntrack engine)
    TimeMs expires_in_ms = 0;      // kNoExpiry while kernel flows hold it
};

} // namespace conenat::core
