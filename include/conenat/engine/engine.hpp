// An engine applies the chosen NAT behaviour to the router's traffic. The daemon starts it,
// writes its statistics every second, reconfigures it on SIGHUP and stops it on SIGTERM/SIGINT.
// While it runs it follows the router on its own: the WAN interface's addresses (rtnetlink
// events) and its nftables table (nftables events: reinstalled when someone removes it).
#pragma once

#include "conenat/engine/config.hpp"
#include "conenat/engine/latency.hpp"
#include "conenat/io/nft_rules.hpp"
#include "conenat/engine/view.hpp"
#include "conenat/util/result.hpp"

#include <memory>
#include <string>
#include <vector>

namespace conenat::engine {

class Engine {
public:
    virtual ~Engine() = default;
    // Installs what it needs (unless --rules manual) and starts its threads.
    virtual Status start() = 0;
    // Stops the threads and removes everything it installed. Idempotent.
    virtual void stop() = 0;
    // Applies `next` live (SIGHUP, a new WAN address): NAT type and behaviours, timers and limits
    // for new mappings, the port pool, forwards, internal prefixes, external addresses. Mappings
    // still valid are kept with their external endpoints; one outside the new pool (address or
    // port) ends as if it had expired, its kernel flows flushed. The rule set is reinstalled with
    // every live mapping. Keys only a restart changes (engine, queues, queue numbers, table, mark,
    // tun name, rules) are the caller's to refuse. An error: the old configuration runs on.
    virtual Status reconfigure(const EngineConfig& next) = 0;
    // "name value" lines: the core's counters and the engine's own.
    virtual std::string stats() = 0;
    // True while every datapath thread has gone round its loop lately (heartbeat.hpp): the
    // systemd watchdog pings only then. Cheap (reads a few atomics); any thread may ask.
    virtual bool alive() const = 0;
    // Its latency histograms (none by default), for the Prometheus exposition (metrics.hpp).
    virtual std::vector<NamedLatency> latencies() const { return {}; }
    // A read-only copy of its tables (conenatctl): the running config, the counts, and the rows
    // `request` asks for, each table copied by the thread that owns it. Any thread may call it.
    virtual Result<TableView> view(const ViewRequest& request) = 0;
};

// The engine `config.engine` names.
std::unique_ptr<Engine> make_engine(const EngineConfig& config);

// The nftables rule set that engine installs, as nft text (--print-rules). Without
// `queue_statements`, the text for a kernel without the nft queue statement: no queue
// statements, the packets they would take left for iptables' NFQUEUE (examples/iptables-*.sh).
std::string rules_text(const EngineConfig& config, bool queue_statements = true);
// The same rule set as a description (native queue statements): what `check` looks for.
io::nft::RuleSet rule_set(const EngineConfig& config);

} // namespace conenat::engine
