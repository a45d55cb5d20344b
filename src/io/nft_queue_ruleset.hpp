// Internal: the messages that install the queue engine's table (see queue_rules.hpp), and the
// names its renderer shares with them.
#pragma once

#include "conenat/io/queue_rules.hpp"
#include "nft_batch.hpp"

#include <string>
#include <string_view>

namespace conenat::io::detail {

constexpr std::string_view kQueueChainPre = "pre", kQueueChainPost = "post", kQueueChainOutput = "output";
constexpr std::string_view kQueueSetExternal = "external";
constexpr std::string_view kMapInPorts = "in_ports", kMapHairpinPorts = "hp_ports";
constexpr std::string_view kMapOutHosts = "out_hosts", kMapHairpinHosts = "hp_hosts";
constexpr int kQueuePrioPre = -300, kQueuePrioPost = 100, kQueuePrioOutput = -300;

// Worker chains: "in3", "out3", "hp3".
std::string worker_chain(std::string_view kind, unsigned worker);

// Replaces table `spec.table` with the queue engine's rule set, in one transaction.
Status build_queue_install(NftBatch& batch, const QueueRuleSpec& spec);

} // namespace conenat::io::detail
