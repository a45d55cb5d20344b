#include "conenat/daemon/system.hpp"

#include "conenat/daemon/user_dnat.hpp"
#include "conenat/io/rtnetlink.hpp"
#include "conenat/util/log.hpp"
#include "conenat/util/text.hpp"

#include <algorithm>
#include <fstream>
#include <net/if.h>
#include <optional>

namespace conenat::daemon {

namespace {

// The router's own ephemeral ports (net.ipv4.ip_local_port_range), read from /proc.
std::optional<core::PortRange> local_port_range() {
    std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
    unsigned lo = 0, hi = 0;
    if (!(in >> lo >> hi) || lo == 0 || lo > hi || hi > 65535) return std::nullopt;
    return core::PortRange{std::uint16_t(lo), std::uint16_t(hi)};
}

// 1024-65535 without the router's own ephemeral range: the well-known ports stay the router's
// services', the ephemeral ones its own connections' (RFC 5382 §4.3: no collision with them).
core::PortSet default_ports() {
    const core::PortSet all = core::PortSet::from_ranges({{1024, 65535}});
    const auto local = local_port_range();
    if (!local) return all;
    core::PortSet rest = all.without({*local});
    return rest.empty() ? all : rest; // the sysctl took everything: nothing better
}

// RFC 5382 §4.3 (TCP-host): ports the router's own sockets may take must not be handed out.
void warn_local_port_overlap(const core::PortSet& ports) {
    const auto local = local_port_range();
    if (!local) return;
    const unsigned lo = local->first, hi = local->last;
    for (const core::PortRange& r : ports.ranges())
        if (r.first <= hi && r.last >= lo) {
            LOG_WARN("--ports: the external port set overlaps net.ipv4.ip_local_port_range (%u-%u): the router's own "
                     "connections may collide with mappings; choose a range outside it or change the sysctl",
                     lo, hi);
            return;
        }
}

} // namespace

Status resolve_system(Options& o) {
    if (o.external_from_if) {
        // Followed from now on (the engine's rtnetlink watch): a WAN that is down or has no
        // address yet (PPPoE dialling, DHCP) is waited for, not a reason to exit.
        auto addrs = io::ipv4_addresses(o.external_if);
        if (!addrs) return Error{"--external-if: " + addrs.error()};
        o.nat.pool.external_addrs = std::move(addrs.value());
        if (if_nametoindex(o.external_if.c_str()) == 0)
            LOG_WARN("--external-if: no interface '%s' yet: NAT starts when it appears with an address", o.external_if.c_str());
        else if (o.nat.pool.external_addrs.empty())
            LOG_WARN("--external-if: '%s' has no IPv4 address yet: NAT starts when it gets one", o.external_if.c_str());
    } else if (if_nametoindex(o.external_if.c_str()) == 0) {
        return Error{"--external-if: no such interface '" + o.external_if + "'"};
    }
    if (o.default_ports) {
        o.nat.pool.ports = default_ports();
        if (o.nat.pool.block_size > o.nat.pool.ports.size())
            return Error{"--port-block-size: larger than the default port set (" + std::to_string(o.nat.pool.ports.size()) +
                         " ports); give --ports"};
    }
    for (core::Ipv4 a : o.nat.pool.external_addrs) {
        if (o.is_internal(a))
            return Error{"--external-ip: " + text::format_ipv4(a) + " lies inside --internal-net (RFC 4787 REQ-7)"};
    }
    if (!o.default_ports) warn_local_port_overlap(o.nat.pool.ports);
    if (!o.print_rules) CONENAT_TRY(reserve_user_dnat(o));
    if (const std::string bad = core::check_forwards(o.nat); !bad.empty()) {
        if (!o.external_from_if) return Error{"--forward: " + bad};
        LOG_WARN("--forward: %s: it waits until %s has that address", bad.c_str(), o.external_if.c_str());
    }
    return {};
}

} // namespace conenat::daemon
