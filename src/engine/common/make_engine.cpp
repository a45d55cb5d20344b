// The one place that knows all three engines.
#include "conenat/engine/engine.hpp"

#include "engine/conntrack/engine.hpp"
#include "engine/queue/engine.hpp"
#include "engine/tun/engine.hpp"

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

} // namespace conenat::engine
