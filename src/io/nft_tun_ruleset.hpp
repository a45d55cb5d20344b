// Internal: the messages that install the tun engine's table (see tun_rules.hpp).
#pragma once

#include "conenat/io/tun_rules.hpp"
#include "nft_batch.hpp"

namespace conenat::io::detail {

// Replaces table `spec.table` with the tun engine's rule set, in one transaction.
Status build_tun_install(NftBatch& batch, const TunRuleSpec& spec);

} // namespace conenat::io::detail
