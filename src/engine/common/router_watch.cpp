#include "router_watch.hpp"

#include "conenat/engine/clock.hpp"
#include "conenat/io/poll.hpp"
#include "conenat/io/rtnetlink.hpp"
#include "conenat/util/log.hpp"
#include "conenat/util/rate_limit.hpp"
#include "conenat/util/text.hpp"

#include <algorithm>
#include <climits>

namespace conenat::engine {

namespace {

// The retry period when the WAN's addresses could not be read.
constexpr int kRetryMs = 1000;

const char* object_text(io::NftEvent::Object o) {
    using O = io::NftEvent::Object;
    switch (o) {
    case O::Table: return "table";
    case O::Chain: return "a chain of";
    case O::Rule: return "a rule of";
    case O::Set: return "a set of";
    case O::SetElement: return "set elements of";
    case O::StatefulObject: return "an object of";
    case O::Flowtable: return "a flowtable of";
    case O::Generation: break;
    }
    return "something of";
}

} // namespace

std::string addresses_text(const std::vector<core::Ipv4>& addrs) {
    std::string s;
    for (core::Ipv4 a : addrs) s += (s.empty() ? "" : ", ") + text::format_ipv4(a);
    return s.empty() ? "(no address)" : s;
}

struct RouterWatch::State {
    RouterWatchConfig config;
    std::optional<io::RtnetlinkMonitor> links;
    io::NftMonitor nft;
    io::EventFd stop;
    RouterWatchHandlers handlers;

    std::vector<core::Ipv4> wan; // sorted: compared order-insensitively
    bool wan_retry = false;
    // Deletions seen in a transaction not yet ended (its portid), and what they deleted.
    std::optional<std::string> deleting;
    std::uint32_t deleting_portid = 0;
    std::int64_t deleting_since = 0;
    std::optional<std::string> held; // a table_lost waiting for kRefireMs since the last
    std::uint64_t held_more = 0;
    std::int64_t last_fired = INT64_MIN / 2;

    void run();
    int timeout_ms(std::int64_t now) const;
    void on_nft(const io::NftEvent& ev, std::int64_t now);
    void read_wan();
    void lost(std::string why, std::int64_t now);
    void fire_if_due(std::int64_t now);
};

RouterWatch::RouterWatch(std::unique_ptr<State> state) : m_state(std::move(state)) {}
RouterWatch::RouterWatch(RouterWatch&&) noexcept = default;
RouterWatch& RouterWatch::operator=(RouterWatch&& o) noexcept {
    if (this != &o) {
        stop();
        m_state = std::move(o.m_state);
        m_thread = std::move(o.m_thread);
    }
    return *this;
}
RouterWatch::~RouterWatch() {
    stop();
}

Result<RouterWatch> RouterWatch::open(RouterWatchConfig config) {
    std::optional<io::RtnetlinkMonitor> links;
    if (config.follow_wan) {
        auto m = io::RtnetlinkMonitor::open();
        if (!m)
            return Error{"router watch: " + m.error()};
        links.emplace(std::move(m.value()));
    }
    auto nft = io::NftMonitor::open(config.own_portid);
    if (!nft)
        return Error{"router watch: " + nft.error()};
    auto stop = io::EventFd::open();
    if (!stop)
        return Error{"router watch: " + stop.error()};
    auto state = std::unique_ptr<State>(
        new State{std::move(config), std::move(links), std::move(nft.value()), std::move(stop.value()), {}});
    state->wan = state->config.wan_now;
    std::sort(state->wan.begin(), state->wan.end());
    return RouterWatch(std::move(state));
}

Status RouterWatch::start(RouterWatchHandlers handlers) {
    if (!m_state)
        return Error{"router watch: not open"};
    if (m_thread.joinable())
        return Error{"router watch: already started"};
    m_state->handlers = std::move(handlers);
    m_thread = std::thread([s = m_state.get()] { s->run(); });
    return {};
}

void RouterWatch::stop() {
    if (!m_state)
        return;
    m_state->stop.signal();
    if (m_thread.joinable())
        m_thread.join();
}

int RouterWatch::State::timeout_ms(std::int64_t now) const {
    std::int64_t t = -1;
    auto sooner = [&](std::int64_t at) {
        const std::int64_t in = std::max<std::int64_t>(0, at - now);
        t = t < 0 ? in : std::min(t, in);
    };
    if (held)
        sooner(last_fired + kRefireMs);
    if (deleting)
        sooner(deleting_since + kSettleMs);
    if (wan_retry)
        sooner(now + kRetryMs);
    return static_cast<int>(std::min<std::int64_t>(t, INT_MAX));
}

void RouterWatch::State::run() {
    io::Poller poller;
    const std::size_t stop_at = poller.watch(stop);
    const std::size_t nft_at = poller.watch(nft.fd());
    const std::size_t links_at = links ? poller.watch(links->fd()) : io::Poller::kMax;
    for (;;) {
        if (Status s = poller.wait(timeout_ms(now_ms())); !s) {
            LOG_ERROR("router watch: %s", s.error().c_str());
            return;
        }
        if (poller.readable(stop_at))
            return;
        const std::int64_t now = now_ms();
        if (poller.readable(nft_at)) {
            auto r = nft.read([&](const io::NftEvent& ev) { on_nft(ev, now); });
            if (!r)
                LOG_ERROR_LIMITED(10, "router watch: %s", r.error().c_str());
            else if (*r == io::NftMonitor::Read::Lost)
                lost("nftables notifications were lost (socket overrun): the table may have changed", now);
        }
        if (deleting && now - deleting_since >= kSettleMs) {
            lost(*deleting + " by another process (netlink port " + std::to_string(deleting_portid) + ")", now);
            deleting.reset();
        }
        fire_if_due(now);
        bool wan_changed = wan_retry;
        if (poller.readable(links_at)) {
            // Which interface does not matter: the WAN is re-read by name, once per burst.
            auto r = links->read([&](const io::InterfaceEvent&) { wan_changed = true; });
            if (!r)
                LOG_ERROR_LIMITED(10, "router watch: %s", r.error().c_str());
            wan_changed = true; // also when events were lost: read the state itself
        }
        if (wan_changed)
            read_wan();
    }
}

void RouterWatch::State::on_nft(const io::NftEvent& ev, std::int64_t now) {
    if (ev.object == io::NftEvent::Object::Generation) {
        // The end of a transaction: its deletions of our table are acted on now, once.
        if (deleting && ev.portid == deleting_portid) {
            std::string why = *deleting + " by ";
            if (!ev.proc_name.empty())
                why += ev.proc_name + " (pid " + std::to_string(ev.proc_pid) + ")";
            else
                why += "another process (netlink port " + std::to_string(ev.portid) + ")";
            deleting.reset();
            lost(std::move(why), now);
        }
        return;
    }
    if (!ev.deleted || ev.family != io::kNftFamilyIp || ev.table != config.table || ev.portid == config.own_portid)
        return;
    // The table itself, when the transaction deletes it, names the loss best.
    const bool first = !deleting;
    if (first || (ev.object == io::NftEvent::Object::Table && ev.portid == deleting_portid))
        deleting = std::string(object_text(ev.object)) + " ip " + ev.table + " deleted";
    if (first) {
        deleting_portid = ev.portid;
        deleting_since = now;
    }
}

void RouterWatch::State::lost(std::string why, std::int64_t now) {
    // The first cause is told; later ones before it fires are counted with it.
    if (held)
        ++held_more;
    else
        held = std::move(why);
    fire_if_due(now);
}

void RouterWatch::State::fire_if_due(std::int64_t now) {
    if (!held || now - last_fired < kRefireMs)
        return;
    last_fired = now;
    std::string why = std::move(*held);
    if (held_more != 0)
        why += " (and " + std::to_string(held_more) + " more since)";
    held.reset();
    held_more = 0;
    LOG_DEBUG("router watch: table ip %s lost: %s", config.table.c_str(), why.c_str());
    if (handlers.table_lost)
        handlers.table_lost(why);
}

void RouterWatch::State::read_wan() {
    auto now = io::ipv4_addresses(config.wan_if);
    if (!now) {
        wan_retry = true;
        LOG_ERROR_LIMITED(10, "router watch: %s (retrying)", now.error().c_str());
        return;
    }
    wan_retry = false;
    std::vector<core::Ipv4> addrs = std::move(now.value());
    std::sort(addrs.begin(), addrs.end());
    if (addrs == wan)
        return;
    wan = addrs;
    LOG_DEBUG("router watch: %s addresses now: %s", config.wan_if.c_str(), addresses_text(wan).c_str());
    if (handlers.wan_addresses)
        handlers.wan_addresses(std::move(addrs));
}

} // namespace conenat::engine
