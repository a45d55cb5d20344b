// Static forwards as the user writes them, and the checks a config's forwards must pass.
#include "conenat/core/nat/config.hpp"

#include <algorithm>

namespace conenat::core {

namespace {

std::string dotted(Ipv4 a) {
    return std::to_string(a >> 24) + "." + std::to_string(a >> 16 & 255) + "." + std::to_string(a >> 8 & 255) + "." +
           std::to_string(a & 255);
}

std::string_view proto_name(Proto p) { return p == Proto::Udp ? "udp" : p == Proto::Tcp ? "tcp" : "icmp"; }

} // namespace

std::string to_string(const Forward& f) {
    std::string text(proto_name(f.proto));
    text += ':';
    if (f.external.addr) text += dotted(f.external.addr) + ":";
    return text + std::to_string(f.external.port) + "=" + dotted(f.internal.addr) + ":" + std::to_string(f.internal.port);
}

std::string check_forwards(const NatConfig& c) {
    const std::vector<Ipv4>& addrs = c.pool.external_addrs;
    // Address 0 is the first external address: two forwards collide on what they resolve to.
    auto external_of = [&](const Forward& f) {
        return Endpoint{f.external.addr || addrs.empty() ? f.external.addr : addrs.front(), f.external.port};
    };
    for (std::size_t i = 0; i < c.forwards.size(); ++i) {
        const Forward& f = c.forwards[i];
        const std::string name = "forward " + to_string(f);
        if (f.proto == Proto::Icmp) return name + ": only udp and tcp can be forwarded";
        if (f.external.port == 0 || f.internal.port == 0) return name + ": port 0 cannot be forwarded";
        if (f.internal.addr == 0) return name + ": the internal address is missing";
        if (f.external.addr && !addrs.empty() && std::find(addrs.begin(), addrs.end(), f.external.addr) == addrs.end())
            return name + " lies outside every external address";
        for (std::size_t j = 0; j < i; ++j) {
            const Forward& e = c.forwards[j];
            if (e.proto != f.proto) continue;
            if (external_of(e) == external_of(f))
                return name + " collides with forward " + to_string(e) + " (the same external endpoint)";
            if (e.internal == f.internal)
                return name + " collides with forward " + to_string(e) + " (the same internal endpoint)";
        }
    }
    return {};
}

} // namespace conenat::core
