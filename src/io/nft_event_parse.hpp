// Internal: one nf_tables notification -> NftEvent (the fuzz target fuzz_nft_events calls it as
// NftMonitor does). Takes a message that fits its buffer (detail::fitting); anything that is not
// an nf_tables object or generation notification yields nullopt.
#pragma once

#include "conenat/io/nft_monitor.hpp"

#include <optional>

struct nlmsghdr;

namespace conenat::io::detail {

std::optional<NftEvent> parse_nft_event(const nlmsghdr* nlh);

} // namespace conenat::io::detail
