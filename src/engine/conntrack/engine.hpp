// The conntrack engine: the kernel translates; conenatd decides. One thread follows conntrack
// NEW/DESTROY events and keeps the mapping table; one takes the first packets that the
// nftables maps cannot translate yet (NFQUEUE), applies the mapping/filtering policy, programs
// the maps (libnftnl, ACKed) and returns the packet to the kernel (NF_REPEAT).
#pragma once

#include "conenat/core/nat/mapping_table.hpp"
#include "conenat/core/nat/syn_hold.hpp"
#include "conenat/core/packet/icmp_build.hpp"
#include "conenat/core/packet/parse.hpp"
#include "conenat/engine/engine.hpp"
#include "conenat/engine/heartbeat.hpp"
#include "conenat/engine/latency.hpp"
#include "conenat/io/conntrack.hpp"
#include "conenat/io/conntrack_table.hpp"
#include "conenat/io/nfqueue.hpp"
#include "conenat/io/raw_socket.hpp"
#include "conenat/io/fd.hpp"
#include "conenat/io/nftables.hpp"
#include "engine/common/installed_rules.hpp"
#include "engine/common/mapping_log.hpp"
#include "engine/common/router_watch.hpp"
#include "engine/conntrack/programmed.hpp"
#include "engine/common/table_check.hpp"

#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace conenat::engine {

// The rule set this engine installs, as nft text (--print-rules).
std::string conntrack_rules_text(const EngineConfig& config, io::nft::Queueing queueing);

class ConntrackEngine final : public Engine, private core::MappingObserver {
public:
    explicit ConntrackEngine(const EngineConfig& config);
    ~ConntrackEngine() override;
    Status start() override;
    void stop() override;
    Status reconfigure(const EngineConfig& next) override;
    std::string stats() override;
    bool alive() const override {
        const core::TimeMs now = now_ms();
        return m_event_beat.recent(now) && m_queue_beat.recent(now);
    }
    std::vector<NamedLatency> latencies() const override;
    Result<TableView> view(const ViewRequest& request) override; // view.cpp
    // HA pair (--takeover-grace): "active" or "standby"; "" for a router on its own.
    std::string role() const;

private:
    // What a conntrack entry means to us.
    struct FlowKey {
        core::Proto proto{};
        core::Endpoint internal, remote, external;
        bool outbound = true;    // our mapping is the sender's (the flow leaves through it)
        bool from_inside = true; // the flow's first packet came from inside (hairpins too)
    };
    void mapping_created(const core::Mapping& m, core::TimeMs now) override;
    void mapping_removed(const core::Mapping& m, core::TimeMs created, core::TimeMs now) override;
    void block_allocated(const core::BlockUse& b, core::TimeMs now) override { m_mapping_log.block_allocated(b, now); }
    void block_released(const core::BlockUse& b, core::TimeMs now) override { m_mapping_log.block_released(b, now); }

    // events thread (conntrack_events.cpp)
    void event_loop();
    std::size_t classify(const io::FlowEvent& e, FlowKey (&keys)[2]) const;
    void apply(const io::FlowEvent& e, core::TimeMs now, bool dumped = false);
    void apply(const FlowKey& k, bool destroy, core::TimeMs now);
    // takeover.cpp: one router of an HA pair (--takeover-grace with --external-ip).
    bool pair_member() const;
    void init_role();
    bool holds_external(const std::vector<core::Ipv4>& wan) const;
    void wan_role(const std::vector<core::Ipv4>& wan, core::TimeMs now);
    // Standby, or in the grace after a takeover: first packets get no mapping (m_mutex held).
    bool holding_off(core::TimeMs now) const;
    core::TimeMs grace_left(core::TimeMs now) const; // 0: no takeover running (m_mutex held)
    // A flow committed by a state sync (conntrackd): our mappings in its way end.
    void yield_to_synced(const FlowKey& k, core::TimeMs now);
    void resync(core::TimeMs now);
    bool dump(std::vector<io::FlowEvent>& entries); // a conntrack dump; false (logged) on failure
    void apply_dump(const std::vector<io::FlowEvent>& entries, core::TimeMs now); // a resync (m_mutex held)
    void check_release(core::TimeMs now);
    bool due() {
        std::lock_guard lock(m_mutex);
        return m_table.due_count() != 0;
    }
    // A mapping a first packet goes through: its elements back in the maps if a release check
    // took them out (m_mutex held).
    void reinstate(core::MappingId m);
    // The kernel's table full (nf_conntrack_max): counted, and logged once an episode.
    void watch_conntrack_table(core::TimeMs now);

    // queue thread (conntrack_queue.cpp)
    void queue_loop();
    // An outbound flow whose first packet goes round again: its kernel flow will hold a
    // session of `mapping` (its NEW event is not sent: rules.cpp, events chain).
    struct Begun {
        core::MappingId mapping = core::kNil;
        core::Endpoint remote;
    };
    io::Verdict decide_out(const io::QueuedPacket& p, core::TimeMs now, Begun& begun);
    void flow_begun(const Begun& b, core::TimeMs now);
    std::optional<io::Verdict> decide_in(const io::QueuedPacket& p, core::TimeMs now);
    void expire_holds(core::TimeMs now);
    void drop_held(std::uint32_t token);
    void refuse(std::span<const std::uint8_t> pkt, const core::PacketView& v);

    // shared, under m_mutex
    Status flush_elements();
    // A packet of mapping `m` to `remote` that the maps' key cannot give it (a mapping made
    // under a coarser behaviour than the maps' key): its own per-flow element.
    void program_flow(core::MappingId m, core::Endpoint remote);
    // Installs the rule set again with every live mapping's elements (someone deleted or
    // flushed our table); logs `why` and the count.
    Status replay_rules(const std::string& why);
    // router_life.cpp: RouterWatch's thread tells us of the router's events.
    Status start_watch();
    void table_lost(const std::string& why);
    void wan_addresses(std::vector<core::Ipv4> addrs);
    // Applies `next` (its addresses as given), m_mutex held: rules first, then the core.
    Status apply(const EngineConfig& next);
    bool internal(core::Ipv4 a) const { return m_config.is_internal(a); }
    bool external(core::Ipv4 a) const { return m_config.nat.pool.is_external(a); }

    EngineConfig m_config;
    io::NatMaps m_maps; // the table's maps, which the elements go into

    std::mutex m_mutex; // the table, the maps' pending elements, the nft socket, the holds
    core::MappingTable m_table;
    TableCheck m_check; // of m_table, by the events thread
    std::optional<InstalledRules> m_rules; // the nftables socket and our table
    std::vector<io::MappingElement> m_to_add, m_to_remove;
    ProgrammedMappings m_programmed; // every live mapping's elements (in the maps or in m_to_add)
    io::nft::Queueing m_queueing = io::nft::Queueing::Native;
    bool m_reconfiguring = false;                              // apply() runs: ...
    std::vector<std::pair<core::Proto, core::Endpoint>> m_ended; // ... the mappings it ended
    std::vector<std::pair<core::Proto, core::Endpoint>> m_yielded; // ended by yield_to_synced
    std::atomic<bool> m_active{true}; // HA pair: the external address is on the WAN (else standby)
    core::TimeMs m_takeover_at = 0, m_last_synced = 0; // under m_mutex
    core::SynHold m_syn_hold; // with the packets held in the inbound queue (their ids)
    std::vector<std::uint32_t> m_released; // tokens released by the events thread
    // ICMP errors to send (queue thread only): written under m_mutex into fixed buffers, sent once
    // it is released; at most kMaxReplies a round (no allocation on the first-packet path; more
    // refusals in one round go unanswered, as ICMP errors are rate-limited anyway).
    static constexpr std::size_t kMaxReplies = 64;
    struct Reply {
        std::array<std::uint8_t, core::icmp::kErrorBytes> bytes{};
        std::size_t size = 0;
    };
    std::array<Reply, kMaxReplies> m_replies{};
    std::size_t m_reply_count = 0;

    std::optional<io::ConntrackEvents> m_events;
    std::optional<io::NfQueue> m_queue_out, m_queue_in;
    std::optional<io::RawIpSocket> m_raw;
    std::optional<RouterWatch> m_watch;
    std::optional<io::EventFd> m_stop; // wakes both threads to stop
    std::thread m_event_thread, m_queue_thread;
    Heartbeat m_event_beat, m_queue_beat; // each thread's, once a round
    bool m_started = false;
    // events thread: the kernel's conntrack drops when we started and last looked
    std::optional<std::uint64_t> m_ct_drops_base, m_ct_evictions_base;
    std::uint64_t m_ct_drops_seen = 0, m_ct_evictions_seen = 0;
    bool m_ct_full = false;
    std::optional<core::TimeMs> m_ct_full_logged;

    // In-daemon time of a batch of first packets: from receive to the verdicts sent, and the
    // part of it spent programming the maps (ACKed nftables batch).
    LatencyHistogram m_decide_us, m_program_us;
    MappingLogBuffer m_mapping_log; // under m_mutex, as the table: written when due and each second
    std::atomic<std::uint64_t> m_queued_out{0}, m_queued_in{0}, m_repeat{0}, m_flows_begun{0}, m_dropped{0}, m_held{0},
        m_events_new{0}, m_events_destroy{0}, m_events_ignored{0}, m_events_lost{0}, m_resyncs{0}, m_nft_errors{0},
        m_elements_added{0}, m_elements_removed{0}, m_replies_sent{0}, m_event_buffer{0}, m_rules_reinstalled{0},
        m_conntrack_full{0}, m_conntrack_drops{0}, m_sync_replaced{0},
        m_takeover_drops{0}, m_release_checks{0}, m_release_kept{0};
};

} // namespace conenat::engine
