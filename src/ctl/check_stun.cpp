// Plain-language findings from an RFC 5780 discovery: is the WAN address what the internet
// sees, and if a NAT sits upstream, how does it map and filter (RFC 4787 terms).
#include "ctl/check_stun.hpp"

#include "conenat/util/text.hpp"

namespace conenat::ctl {

namespace {

using stun::Behaviour;

std::string ep(core::Endpoint e) { return text::format_endpoint(e); }

// Why the WAN address is not a public one, when its range says so (RFC 6598 / RFC 1918).
std::string address_kind(core::Ipv4 a) {
    const core::Prefix shared{core::make_ipv4(100, 64, 0, 0), 10};
    const core::Prefix priv[] = {{core::make_ipv4(10, 0, 0, 0), 8}, {core::make_ipv4(172, 16, 0, 0), 12},
                                 {core::make_ipv4(192, 168, 0, 0), 16}};
    if (shared.contains(a)) return " (" + text::format_ipv4(a) + " is in 100.64.0.0/10, the carrier-grade NAT range of RFC 6598)";
    for (const core::Prefix& p : priv)
        if (p.contains(a)) return " (" + text::format_ipv4(a) + " is a private RFC 1918 address)";
    return "";
}

// What the LAN gets at best through two NATs: mapping endpoint-independent only when both
// are; the stricter filtering of the two.
Behaviour stricter(Behaviour a, Behaviour b) { return a == Behaviour::Unknown || b == Behaviour::Unknown ? Behaviour::Unknown : std::max(a, b); }

} // namespace

std::vector<Finding> stun_findings(const StunDiscovery& d, core::Ipv4 wan) {
    using L = Finding::Level;
    std::vector<Finding> out;
    const std::string server = "STUN server " + ep(d.server);
    const stun::MappingTests& m = d.mapping;
    if (!m.test1) {
        out.push_back({L::Problem, server + ": no answer to a Binding request from " + text::format_ipv4(wan) +
                                       " within 5.5 s (4 sends, RFC 5389 retransmissions): UDP to it is blocked, or "
                                       "it is down. Try another server; nothing upstream could be checked."});
        return out;
    }
    const Behaviour mapping = stun::mapping_behaviour(m);
    const Behaviour filtering = stun::filtering_behaviour(d.filtering);
    std::string behaviour;
    if (d.rfc5780) {
        behaviour = to_string(mapping) + " mapping" + (m.test1->port == m.local.port ? " with port preservation" : "") +
                    ", " + to_string(filtering) + " filtering";
        if (filtering == Behaviour::Unknown && d.change_request_refused)
            behaviour += " (the server did not honour CHANGE-REQUEST: use an RFC 5780 server to learn the filtering)";
    }
    const std::string no_5780 = server + " does not support RFC 5780 (no usable OTHER-ADDRESS): the behaviour "
                                         "could not be measured; use a server with two addresses, e.g. coturn.";

    if (stun::no_nat(m)) {
        out.push_back({L::Ok, "upstream: the internet sees this router's WAN address " + text::format_ipv4(wan) +
                                  " itself (" + server + " saw " + ep(*m.test1) + "): no NAT in front of the router."});
        if (d.rfc5780 && filtering != Behaviour::EndpointIndependent && filtering != Behaviour::Unknown)
            out.push_back({L::Note, "unsolicited packets to the router's own address are filtered (" + to_string(filtering) +
                                        " filtering): this router's own input firewall, or a firewall upstream; "
                                        "one upstream would filter the LAN's traffic too."});
        return out;
    }
    if (m.test1->addr == wan) {
        out.push_back({L::Problem, "upstream: the internet sees this router's address " + text::format_ipv4(wan) +
                                       " but port " + std::to_string(m.test1->port) + " instead of " +
                                       std::to_string(m.local.port) + ": something between the router and " + server +
                                       " rewrites ports" + (d.rfc5780 ? " (" + behaviour + ")" : "") + "."});
        return out;
    }
    // RFC 5780 §4.3: the mapped address is not the local one: a NAT sits in front.
    std::string text = "upstream NAT: the internet sees " + text::format_ipv4(m.test1->addr) + ", not this router's WAN address " +
                       text::format_ipv4(wan) + address_kind(wan) + ": a NAT sits in front of this router (carrier-grade NAT or "
                       "the ISP's modem; " + server + " saw " + ep(*m.test1) + " for " + ep(m.local) + ").";
    if (!d.rfc5780) {
        out.push_back({L::Problem, text + " No setting on this router can give the LAN an open NAT through it: ask the ISP "
                                          "for a public address, or put the modem in bridge mode."});
        out.push_back({L::Note, no_5780});
        return out;
    }
    text += " Its behaviour: " + behaviour + ".";
    if (mapping == Behaviour::EndpointIndependent && filtering == Behaviour::EndpointIndependent) {
        out.push_back({L::Ok, text + " It is a full cone itself: the LAN keeps the NAT type chosen here, but inbound "
                                     "port forwards also need a forward on it."});
        return out;
    }
    out.push_back({L::Problem, text + " No setting on this router can give the LAN an open NAT through it: the LAN gets at "
                                      "best " + to_string(mapping == Behaviour::EndpointIndependent ? Behaviour::EndpointIndependent
                                                                                                     : mapping) +
                                      " mapping and " + to_string(stricter(filtering, Behaviour::EndpointIndependent)) +
                                      " filtering. Ask the ISP for a public address, or put the modem in bridge mode."});
    return out;
}

} // namespace conenat::ctl
