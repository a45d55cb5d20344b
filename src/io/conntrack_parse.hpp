// Internal: one ctnetlink message -> FlowEvent. Never fails loudly: anything that is not an
// IPv4 UDP/TCP/ICMP entry with both tuples yields nullopt.
#pragma once

#include "conenat/io/conntrack.hpp"

#include <cstdint>
#include <optional>
#include <vector>

struct nlmsghdr;

namespace conenat::io::detail {

// Reads the CTA_* attributes with libmnl: libnetfilter_conntrack's nf_conntrack keeps one
// ATTR_ICMP_ID for both directions and returns the original one, but the reply tuple's
// identifier is the one NAT chose.
std::optional<FlowEvent> parse_flow_event(const nlmsghdr* nlh);

// The attributes that name one entry of a dump answer — its original tuple, zone and id —
// copied as they are, for an IPCTNL_MSG_CT_DELETE of exactly that entry (the id makes the
// kernel refuse, ENOENT, a newer entry that took the same tuple meanwhile). Empty without a tuple.
std::vector<std::uint8_t> entry_identity(const nlmsghdr* nlh);

} // namespace conenat::io::detail
