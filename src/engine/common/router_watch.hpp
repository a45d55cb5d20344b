// The router's events for an engine, from the kernel without polling: the WAN interface's IPv4
// addresses changed (followed by name: a PPPoE link may go and come back with a new index), or
// another process deleted or flushed the engine's nftables table (or the notifications
// overran, and the worst must be assumed). One thread; the handlers run on it.
#pragma once

#include "conenat/core/types.hpp"
#include "conenat/io/fd.hpp"
#include "conenat/io/nft_monitor.hpp"
#include "conenat/io/rtnetlink_monitor.hpp"
#include "conenat/util/result.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace conenat::engine {

struct RouterWatchHandlers {
    std::function<void(std::vector<core::Ipv4>)> wan_addresses; // the WAN's IPv4 addresses changed (may be empty)
    std::function<void(const std::string& why)> table_lost;      // someone else deleted/flushed/changed our table, or events were lost
};

struct RouterWatchConfig {
    std::string wan_if;
    bool follow_wan = false;          // watch the WAN's addresses (else only the table)
    std::string table;                // our table (family ip)
    std::uint32_t own_portid = 0;     // io::Nftables::portid(): our own changes are not news
    std::vector<core::Ipv4> wan_now;  // the addresses the engine runs with now
};

class RouterWatch {
public:
    // table_lost fires at most this often; one that comes sooner is held and fires then.
    static constexpr std::int64_t kRefireMs = 1000;
    // Deletions are acted on at the end of their transaction (its generation notification), or
    // this long after the last one if that never comes.
    static constexpr std::int64_t kSettleMs = 200;

    // Opens and subscribes the sockets now: changes from here on are seen once start() runs.
    static Result<RouterWatch> open(RouterWatchConfig config);
    RouterWatch(RouterWatch&&) noexcept;
    RouterWatch& operator=(RouterWatch&&) noexcept;
    ~RouterWatch();

    // Starts the thread (once).
    Status start(RouterWatchHandlers handlers);
    // Stops and joins the thread. Idempotent; a handler that is running finishes first.
    void stop();

private:
    struct State;
    explicit RouterWatch(std::unique_ptr<State> state);
    std::unique_ptr<State> m_state;
    std::thread m_thread;
};

// "198.51.100.1, 198.51.100.2"; "(no address)" for none.
std::string addresses_text(const std::vector<core::Ipv4>& addrs);

} // namespace conenat::engine
