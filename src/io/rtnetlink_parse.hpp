// Internal: the rtnetlink answers Rtnetlink reads (the fuzz target fuzz_rtnetlink calls them as
// the adapter does). Each takes one message that fits its buffer (detail::fitting).
#pragma once

#include "conenat/io/rtnetlink.hpp"

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

} // namespace conenat::io::detail
