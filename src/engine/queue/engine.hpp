// The queue engine: conntrack is bypassed and every packet of the NAT's traffic goes through
// userspace, where the pure core translates it in place. N workers, each with its own
// Translator and its own two queues (main, with GSO; hairpin, without), share nothing on the
// packet path: the kernel rules shard the traffic (shard_plan.hpp), so that both
// directions of a mapping reach the worker that owns it.
#pragma once

#include "conenat/core/nat/translator.hpp"
#include "conenat/engine/engine.hpp"
#include "conenat/io/nfqueue.hpp"
#include "conenat/io/nftables.hpp"
#include "engine/common/stats_table.hpp"
#include "engine/software/live_engine.hpp"

#include <string>

namespace conenat::engine {

// The engine's own counters, next to the core's (Counter) in a worker's published statistics.
#define CONENAT_QUEUE_STATS(X)                                                                     \
    X(queued_main) X(queued_hairpin) X(verdict_accept) X(verdict_drop) X(hairpin_handoffs)         \
    X(hairpin_reinjected) X(icmp_replies_sent) X(router_icmp_passed) X(truncated) X(gso_packets)   \
    X(partial_checksums) X(raw_send_failed) X(ttl_expired) X(held_now) X(queue_errors)             \
    X(mappings) X(sessions) X(table_checks) X(table_consistency_errors)

CONENAT_STATS_TABLE(QueueStat, CONENAT_QUEUE_STATS)

class QueueWorker;

// The rule set this engine installs, as nft text (--print-rules).
std::string queue_rules_text(const EngineConfig& config, io::nft::Queueing queueing);

class QueueEngine final : public LiveEngine<QueueEngine, QueueWorker> {
public:
    explicit QueueEngine(const EngineConfig& config);
    ~QueueEngine() override;
    Status start() override;
    void stop() override;

private:
    friend class LiveEngine<QueueEngine, QueueWorker>;
    io::nft::RuleSet rules_for(const EngineConfig& config, const ShardPlan& plan) const;
    void wan_changed() {}

    io::nft::Queueing m_queueing = io::nft::Queueing::Native;
};

} // namespace conenat::engine
