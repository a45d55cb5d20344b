// Internal: the messages that install conenatd's table (see RuleSetSpec in nftables.hpp),
// and the scratch-table probe for the native queue statement.
#pragma once

#include "conenat/io/nftables.hpp"
#include "nft_batch.hpp"

#include <string>
#include <string_view>

namespace conenat::io::detail {

// Chain names. "dnat" and "snat" are nft keywords the CLI (1.0.6) refuses as chain names.
constexpr std::string_view kChainDnat = "dnat_map", kChainDnatQueue = "dnat_queue";
constexpr std::string_view kChainSnat = "snat_map", kChainSnatQueue = "snat_queue";
constexpr std::string_view kChainGuard = "guard", kChainSpoofGuard = "spoof_guard";
constexpr std::string_view kSetExternal = "external";

struct ChainSpec {
    std::string_view name, type;
    std::uint32_t hook; // NF_INET_*
    int priority;
};
// The six chains, in install order.
const ChainSpec* chains(std::size_t* count);

// Replaces table `spec.table` with the rule set (add + delete + add, so absent is fine).
Status build_install(NftBatch& batch, const RuleSetSpec& spec);
// A scratch table with one native queue rule, deleted again in the same batch.
Status build_queue_probe(NftBatch& batch, const std::string& table);

} // namespace conenat::io::detail
