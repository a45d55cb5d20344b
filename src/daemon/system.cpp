#include "conenat/daemon/system.hpp"

#include "conenat/util/log.hpp"
#include "conenat/util/text.hpp"

#include <arpa/inet.h>
#include <fstream>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

namespace conenat::daemon {

namespace {

std::vector<core::Ipv4> interface_addresses(const std::string& name) {
    std::vector<core::Ipv4> out;
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return out;
    for (ifaddrs* i = list; i; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && name == i->ifa_name)
            out.push_back(ntohl(reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr));
    freeifaddrs(list);
    return out;
}

// RFC 5382 §4.3 (TCP-host): ports the router's own sockets may take must not be handed out.
void warn_local_port_overlap(const core::PortSet& ports) {
    std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
    unsigned lo = 0, hi = 0;
    if (!(in >> lo >> hi)) return;
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
    if (if_nametoindex(o.external_if.c_str()) == 0)
        return Error{"--external-if: no such interface '" + o.external_if + "'"};
    if (o.nat.pool.external_addrs.empty()) {
        o.nat.pool.external_addrs = interface_addresses(o.external_if);
        if (o.nat.pool.external_addrs.empty())
            return Error{"--external-ip: none given and interface '" + o.external_if + "' has no IPv4 address"};
    }
    for (core::Ipv4 a : o.nat.pool.external_addrs) {
        if (o.is_internal(a))
            return Error{"--external-ip: " + text::format_ipv4(a) + " lies inside --internal-net (RFC 4787 REQ-7)"};
    }
    warn_local_port_overlap(o.nat.pool.ports);
    return {};
}

} // namespace conenat::daemon
