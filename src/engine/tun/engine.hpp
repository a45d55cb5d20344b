// The tun engine: the kernel routes the NAT's traffic (marked by conenatd's nftables table,
// rules.hpp) into a TUN device; N workers, one per queue of the multi-queue device, each
// with its own Translator, read it, translate it with the pure core and write it back; the
// kernel routes the result on. Conntrack and the kernel's NAT never see that traffic. Packets
// that reach a worker other than their owner (the device spreads flows by hash) are handed off
// through lock-free rings (handoff_ring.hpp).
#pragma once

#include "conenat/engine/engine.hpp"
#include "conenat/io/fd.hpp"
#include "conenat/io/nftables.hpp"
#include "conenat/io/rtnetlink.hpp"
#include "conenat/io/sysctl.hpp"
#include "engine/common/stats_table.hpp"
#include "engine/software/live_engine.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace conenat::engine {

// The engine's own counters, next to the core's in a worker's published statistics.
#define CONENAT_TUN_STATS(X)                                                                       \
    X(tun_read) X(tun_written) X(write_failed) X(read_errors) X(gso_packets) X(partial_checksums)  \
    X(handed_out) X(handed_in) X(handoff_full) X(passed_to_host) X(icmp_replies_sent)            \
    X(fragments_in) X(datagrams_reassembled) X(fragments_dropped) X(held_now)    \
    X(mappings) X(sessions) X(table_checks) X(table_consistency_errors)

CONENAT_STATS_TABLE(TunStat, CONENAT_TUN_STATS)

class TunWorker;
class HandoffRing;

// The rule set this engine installs, as nft text (--print-rules).
std::string tun_rules_text(const EngineConfig& config);

class TunEngine final : public LiveEngine<TunEngine, TunWorker> {
public:
    explicit TunEngine(const EngineConfig& config);
    ~TunEngine() override;
    Status start() override;
    void stop() override;

private:
    friend class LiveEngine<TunEngine, TunWorker>;
    io::nft::RuleSet rules_for(const EngineConfig& config, const ShardPlan& plan) const;
    void wan_changed(); // the device keeps the WAN's MTU when the WAN comes back with another
    Status route_into_device(); // device up, sysctls, route, policy rules
    void unroute_device();

    std::string m_tun_if; // the device the rules route into
    std::optional<io::Rtnetlink> m_rtnl;
    std::vector<std::unique_ptr<HandoffRing>> m_rings; // [from * workers + to]
    std::vector<io::EventFd> m_wake_fds; // worker k's: a hand-off arrived
    bool m_rule_added = false, m_local_moved = false, m_route_added = false;
    unsigned m_tun_index = 0;
    unsigned m_mtu = 0; // the device's: the WAN's
};

} // namespace conenat::engine
