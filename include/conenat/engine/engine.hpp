// An engine applies the chosen NAT behaviour to the router's traffic. The daemon starts it,
// writes its statistics every second, and stops it on SIGTERM/SIGINT.
#pragma once

#include "conenat/engine/config.hpp"
#include "conenat/util/result.hpp"

#include <memory>
#include <string>

namespace conenat::engine {

class Engine {
public:
    virtual ~Engine() = default;
    // Installs what it needs (unless --rules manual) and starts its threads.
    virtual Status start() = 0;
    // Stops the threads and removes everything it installed. Idempotent.
    virtual void stop() = 0;
    // "name value" lines: the core's counters and the engine's own.
    virtual std::string stats() = 0;
};

// The engine `config.engine` names.
std::unique_ptr<Engine> make_engine(const EngineConfig& config);

// The nftables rule set that engine installs, as nft text (--print-rules). Without
// `queue_statements`, the text for a kernel without the nft queue statement: no queue
// statements, the packets they would take left for iptables' NFQUEUE (examples/iptables-*.sh).
std::string rules_text(const EngineConfig& config, bool queue_statements = true);

} // namespace conenat::engine
