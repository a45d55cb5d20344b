// The part of every engine's rule spec that comes straight from the config.
#pragma once

#include "conenat/engine/config.hpp"
#include "conenat/io/nat_scope.hpp"

namespace conenat::engine {

inline io::NatScope nat_scope(const EngineConfig& o) {
    io::NatScope s;
    s.table = o.table;
    s.wan_if = o.external_if;
    s.internal_net = o.internal_net;
    s.internal_prefix = o.internal_prefix;
    s.external_addrs = o.nat.pool.external_addrs;
    s.pool = o.nat.pool.ports.ranges();
    return s;
}

} // namespace conenat::engine
