// The one place that knows all three engines.
#include "conenat/engine/engine.hpp"

#include "engine/conntrack/engine.hpp"
#include "engine/conntrack/rules.hpp"
#include "engine/queue/engine.hpp"
#include "engine/queue/rules.hpp"
#include "engine/tun/engine.hpp"
#include "engine/tun/rules.hpp"

namespace conenat::engine {

std::unique_ptr<Engine> make_engine(const EngineConfig& config) {
    switch (config.engine) {
    case EngineKind::Queue: return std::make_unique<QueueEngine>(config);
    case EngineKind::Tun: return std::make_unique<TunEngine>(config);
    case EngineKind::Conntrack: break;
    }
    return std::make_unique<ConntrackEngine>(config);
}

std::string rules_text(const EngineConfig& config, bool queue_statements) {
    const io::nft::Queueing q = queue_statements ? io::nft::Queueing::Native : io::nft::Queueing::Elsewhere;
    switch (config.engine) {
    case EngineKind::Queue: return queue_rules_text(config, q);
    case EngineKind::Tun: return tun_rules_text(config); // it queues nothing
    case EngineKind::Conntrack: break;
    }
    return conntrack_rules_text(config, q);
}

io::nft::RuleSet rule_set(const EngineConfig& config) {
    switch (config.engine) {
    case EngineKind::Queue: {
        std::string error;
        const ShardPlan plan = plan_shards(config.nat, config.internal, config.queues, &error);
        return error.empty() ? queue_rules(config, plan, io::nft::Queueing::Native) : io::nft::RuleSet{config.table, {}, {}, {}};
    }
    case EngineKind::Tun: return tun_rules(config, config.tun_name);
    case EngineKind::Conntrack: break;
    }
    return conntrack_rules(config, io::nft::Queueing::Native);
}

} // namespace conenat::engine
