// The user's own DNAT rules (other nftables tables) and the pool: their ports are kept out of
// it, read at start, on each reload, and while the daemon runs when another table changes.
#pragma once

#include "conenat/daemon/options.hpp"
#include "conenat/engine/engine.hpp"
#include "conenat/io/nft_dnat_scan.hpp"
#include "conenat/io/nft_monitor.hpp"
#include "conenat/util/result.hpp"

#include <optional>
#include <string>
#include <vector>

namespace conenat::daemon {

// o's pool becomes o.configured_ports without the ports of `scan`; an error when they leave no
// usable pool.
Status apply_user_dnat(Options& o, const io::DnatPorts& scan);
// The log line of the ports `scan` took out of o's pool (none: nothing), and of forwards on them.
void log_user_dnat(const Options& o, const io::DnatPorts& scan);

// Reads the ruleset's DNAT rules and applies them (apply_user_dnat); unreadable: logged, the
// pool stays whole.
Status reserve_user_dnat(Options& o);

// Follows other tables' changes (nf_tables notifications, read without blocking once per
// round of the daemon's loop): when their DNAT ports change, the engine is reconfigured with
// the pool without them (Engine::reconfigure), one log line.
class UserDnatFollow {
public:
    // Subscribed from now on (the first poll reads the rules once); none (logged) when the
    // notifications cannot be had.
    static std::optional<UserDnatFollow> open();
    // Reads what came; applies a change to `o` and the engine.
    void poll(Options& o, engine::Engine& engine);

private:
    explicit UserDnatFollow(io::NftMonitor monitor) : m_monitor(std::move(monitor)) {}
    io::NftMonitor m_monitor;
    io::DnatPorts m_last;  // what the pool was last made with
    bool m_first = true;   // a change between the start's reading and the subscription
};

} // namespace conenat::daemon
