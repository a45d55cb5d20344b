// Internal: the messages that install a described rule set (nft_rules.hpp), and the probe
// for the native queue statement.
#pragma once

#include "conenat/io/nft_rules.hpp"
#include "nft_batch.hpp"

#include <string>

namespace conenat::io::detail {

// Replaces table `rules.table` with the rule set (add + delete + add, so absent is fine).
Status build_install(NftBatch& batch, const nft::RuleSet& rules);
// A scratch table with one native queue rule, deleted again in the same batch.
Status build_queue_probe(NftBatch& batch, const std::string& table);
// A rule's nft text: its terms' texts joined by spaces.
std::string text_of(const nft::Rule& rule);

} // namespace conenat::io::detail
