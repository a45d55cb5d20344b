// Internal: the rtnetlink answers Rtnetlink reads and the events RtnetlinkMonitor reads (the fuzz
// target fuzz_rtnetlink calls them as the adapters do). Each takes one message that fits its
// buffer (detail::fitting).
#pragma once

#include "conenat/io/rtnetlink.hpp"
#include "conenat/io/rtnetlink_monitor.hpp"

#include <optional>
#include <vector>

struct nlmsghdr;

namespace conenat::io::detail {

// One RTM_NEWRULE of a rule dump, appended to `out`; nothing for another message or family.
void parse_rule(const nlmsghdr* nlh, std::vector<Rtnetlink::ListedRule>& out);

// An RTM_NEWLINK answer: the link's index and MTU (0 when absent); nullopt for another message.
struct LinkAnswer {
    unsigned index = 0, mtu = 0;
};
std::optional<LinkAnswer> parse_link(const nlmsghdr* nlh);

// An IPv4 RTM_NEWADDR (dump answer or event) or RTM_DELADDR: the interface's index and its own
// address (host order); nullopt for another message, family, or one without an address.
struct AddressAnswer {
    unsigned index = 0;
    std::uint32_t local = 0;
    bool removed = false;
};
std::optional<AddressAnswer> parse_address(const nlmsghdr* nlh);

// What an event of RTMGRP_LINK / RTMGRP_IPV4_IFADDR says changed; nullopt for anything else.
std::optional<InterfaceEvent> parse_interface_event(const nlmsghdr* nlh);

} // namespace conenat::io::detail
