// An engine applies the chosen NAT behaviour to the router's traffic. The daemon starts it,
// writes its statistics every second, and stops it on SIGTERM/SIGINT.
#pragma once

#include "conenat/daemon/options.hpp"
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

std::unique_ptr<Engine> make_conntrack_engine(const daemon::Options& options);
std::unique_ptr<Engine> make_queue_engine(const daemon::Options& options);
std::unique_ptr<Engine> make_tun_engine(const daemon::Options& options);

// The nftables rules an engine installs, as nft text (for --print-rules).
std::string conntrack_rules_text(const daemon::Options& options);
std::string queue_rules_text(const daemon::Options& options);
std::string tun_rules_text(const daemon::Options& options);

} // namespace conenat::engine
