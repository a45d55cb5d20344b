// The NAT's state: mappings (one record holding the internal and external endpoints,
// reachable from inside and from outside, as VPP's nat44-ei sessions) and sessions (filter
// permits and TCP connections of a mapping). Timers run on the caller's clock.
//
// Lifetime rule: a record is *live* at `now` when its timer runs or (a mapping) any of its
// sessions is live or (a session) a kernel flow holds it. Lookups return live records only
// and never free anything; only dead records are ever freed (by expire(), or by create /
// adopt / a new session reaping the dead record that holds the same key). A record that is
// live at `now` stays live at `now`, so an id a caller got from a lookup stays valid for the
// rest of that packet, whatever it does in between.
#pragma once

#include "conenat/core/nat/config.hpp"
#include "conenat/core/nat/counters.hpp"
#include "conenat/core/nat/port_allocator.hpp"
#include "conenat/core/nat/slab.hpp"
#include "conenat/core/nat/table_view.hpp"
#include "conenat/core/nat/tcp_state.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace conenat::core {

using MappingId = std::uint32_t;
using SessionId = std::uint32_t;
constexpr TimeMs kForever = ~TimeMs(0); // a forward's deadline

struct Mapping {
    Ipv4 int_addr = 0, ext_addr = 0, rem_addr = 0; // rem_*: the remote part of the key (ADM/APDM)
    std::uint16_t int_port = 0, ext_port = 0, rem_port = 0;
    Proto proto{};              // 0 marks a free slot
    std::uint8_t list = 0;      // deadline list, or kParked
    bool sessions_stale = false; // a session's deadline went down: sessions_until must be recomputed
    Policy policy{};            // the behaviours it was created with (a reconfigure changes only new ones)
    bool forward = false;       // a static forward: permanent, EIM/EIF, outside the host quotas
    std::uint32_t sessions = 0; // session records (live or not yet swept) pointing here
    std::uint32_t held = 0;     // sessions held by kernel flows
    std::uint32_t inbound = 0;  // sessions opened from outside (bounded per mapping)
    std::uint32_t first_session = kNil; // its sessions, linked through Session::map_next
    TimeMs deadline = 0;        // its own timer, refreshed by outbound traffic
    TimeMs sessions_until = 0;  // some session of it is live until at least then
    std::uint32_t list_prev = kNil, list_next = kNil, in2out_next = kNil, out2in_next = kNil;

    Endpoint internal() const { return {int_addr, int_port}; }
    Endpoint external() const { return {ext_addr, ext_port}; }
};

struct Session {
    MappingId mapping = kNil;
    Ipv4 rem_addr = 0;
    std::uint16_t rem_port = 0; // 0: an address-only permit (ADF), or ICMP
    std::uint8_t list = 0;      // deadline list, or kParked while flows hold it
    TcpState tcp = TcpState::None;
    std::uint32_t refs = 0;     // live kernel flows holding it (conntrack engine)
    TimeMs deadline = 0;
    std::uint32_t list_prev = kNil, list_next = kNil, hash_next = kNil;
    std::uint32_t map_prev = kNil, map_next = kNil; // the mapping's sessions
    // TCP connection: in SynOut the inside ISN + 1, later the last ACK the inside sent.
    // Kernel flow: the resync epoch in which it was last seen.
    std::uint32_t tcp_track = 0;
    std::uint32_t tcp_window = 0;  // the inside's receive window as last advertised, in bytes
    std::uint8_t tcp_scale = 0;    // the inside's window shift, in effect once both SYNs offered one
    std::uint8_t tcp_offers = 0;   // kScaleInside / kScaleRemote: which SYNs carried the option
    bool inbound = false;          // opened by a packet from outside (bounded)
    enum : std::uint8_t { kScaleInside = 1, kScaleRemote = 2 };
};

// An internal host's RFC 7422 port block while the host uses it: from its first mapping to
// its last one's end.
struct BlockUse {
    Ipv4 host = 0, external = 0;
    std::uint16_t first_port = 0, last_port = 0; // the block's first and last port of the pool
    std::uint32_t since_s = 0;                     // when its first mapping came (clock seconds)
};

// Told about every mapping created and removed (RFC 6888 §4 logging), and with port blocks
// (--port-block-size) about each block taken into use and given up (RFC 7422 §2.2 logging).
class MappingObserver {
public:
    virtual ~MappingObserver() = default;
    virtual void mapping_created(const Mapping& m, TimeMs now) = 0;
    // `created`: when it was made (to the second), for the log's duration.
    virtual void mapping_removed(const Mapping& m, TimeMs created, TimeMs now) = 0;
    virtual void block_allocated(const BlockUse&, TimeMs) {}
    virtual void block_released(const BlockUse&, TimeMs) {}
};

class MappingTable {
public:
    MappingTable(const NatConfig& config, std::uint64_t seed);

    // Live reconfiguration: new mappings follow `next`; live ones keep their external endpoint
    // and behaviours, except those whose endpoint `next`'s pool lacks (or a forward now claims):
    // they end as if expired (observer told). Forwards are re-created as `next` lists them.
    void reconfigure(const NatConfig& next, TimeMs now);

    const NatConfig& config() const { return m_config; }
    Counters& counters() { return m_counters; }
    const Counters& counters() const { return m_counters; }
    PortAllocator& ports() { return m_ports; }
    void set_observer(MappingObserver* o) { m_observer = o; }

    // The live mapping an outbound packet internal -> remote uses, or kNil.
    MappingId find_outbound(Proto p, Endpoint internal, Endpoint remote, TimeMs now);
    // The live mapping owning external endpoint `external`, or kNil.
    MappingId find_inbound(Proto p, Endpoint external, TimeMs now);
    // A new mapping for internal -> remote with a freshly allocated external endpoint. On
    // failure returns kNil and sets `why` (quota, cap, ports); nothing existing is evicted.
    MappingId create(Proto p, Endpoint internal, Endpoint remote, TimeMs now, Counter& why);
    // A new mapping with a given external endpoint (state rebuilt from the kernel).
    MappingId adopt(Proto p, Endpoint internal, Endpoint remote, Endpoint external, TimeMs now, Counter& why);

    // Outbound traffic through `m` to `remote` (RFC 4787 REQ-6): refreshes the mapping and the
    // filter permit for `remote`, creating it. False when the permit cannot be stored.
    bool refresh_outbound(MappingId m, Endpoint remote, TimeMs now);
    // Filtering (RFC 4787 §5): may a packet from `remote` enter through `m`? Never refreshes.
    bool permits(MappingId m, Endpoint remote, TimeMs now);

    // TCP connections of a mapping (keyed by the remote endpoint).
    SessionId find_connection(MappingId m, Endpoint remote, TimeMs now);
    // kNil at the cap, or for a connection opened from outside (`dir` Inbound) past the
    // inbound bounds; `why` then says which.
    SessionId open_connection(MappingId m, Endpoint remote, TcpState state, TimeMs now, Direction dir,
                              Counter& why);
    // Moves `s` to `state`; re-arms its timer only when `refresh` (outbound) or the timeout class changes.
    void set_connection_state(SessionId s, TcpState state, TimeMs now, bool refresh);

    // Kernel flows (conntrack engine): a conntrack entry of mapping `m` with `remote` keeps the
    // mapping and its filter permit alive; when it ends, their timers start. `origin`: the
    // direction of the flow's first packet (flows opened from outside are bounded). False at
    // a cap or bound (counted).
    bool flow_begin(MappingId m, Endpoint remote, TimeMs now, Direction origin = Direction::Outbound);
    void flow_end(MappingId m, Endpoint remote, TimeMs now);
    // Resync after lost events: flow_begin() for every entry of a fresh dump between these two;
    // flows not seen since resync_begin() end in resync_end().
    void resync_begin() { ++m_epoch; }
    // Ends mapping `m` now, as its expiry would (observer told), its sessions with it: the
    // conntrack engine's way out when a state sync brings an older binding in its way.
    void retire(MappingId m, TimeMs now) { reap_mapping(m, now); }
    void resync_end(TimeMs now);

    // Release check (the conntrack engine, when the kernel starts flows on a mapping without
    // telling us: rules.hpp, events chain): a mapping whose timer ran out with no session does
    // not end then. It waits among the *due* mappings, live, until the caller has looked at the
    // kernel's flows (flow_begin() for each it found) and settles it. While on, no mapping ends
    // but through settle(), retire() or a reconfiguration.
    void set_release_check(bool on) { m_release_check = on; }
    bool release_check() const { return m_release_check; }
    std::uint32_t due_count() const { return m_due; }
    bool due(MappingId m) const { return m_mappings[m].list == kMapDue; }
    template <typename F>
    void for_each_due(F&& f) const {
        for (MappingId id = m_mapping_lists[kMapDue].front(); id != kNil; id = m_mappings[id].list_next)
            f(id, m_mappings[id]);
    }
    // Ends due mapping `m` (observer told) unless a session now holds it: then it waits for its
    // sessions as any mapping past its own timer. True when it ended.
    bool settle(MappingId m, TimeMs now);

    // Warms the cache for the lookups of a packet of flow (local, remote), `local` being the
    // internal endpoint outbound and the external one inbound. A batch runs step 0 (index
    // bucket), 1 (mapping record, session bucket) and 2 (session record) over all its packets
    // before translating them, so the memory latencies overlap. Changes no state.
    void prefetch(Direction dir, Proto p, Endpoint local, Endpoint remote, int step) const;
    // Whether the tables outgrew the caches, so that prefetching pays for itself.
    bool worth_prefetching() const { return m_mappings.live() > 16384; }

    // Removes expired records, at most `budget`; returns how many went.
    std::uint32_t expire(TimeMs now, std::uint32_t budget = 0xffffffffu);

    // Empty when every live record is reachable through its indices, owns its external port,
    // and no external endpoint has two owners; otherwise the first violation. O(capacity).
    std::string consistency_error() const;

    // Inbound-opened sessions now held by `remote` (all mappings), for tests and stats.
    std::uint32_t inbound_sessions_of(Ipv4 remote) const;
    std::uint32_t inbound_session_count() const { return m_inbound_total; }

    // Every mapping record (live, or dead and not yet swept), e.g. to program a kernel afresh.
    template <typename F>
    void for_each_mapping(F&& f) const {
        for (MappingId id = 0; id < m_mappings.capacity(); ++id)
            if (m_mappings[id].proto != Proto(0)) f(id, m_mappings[id]);
    }
    const Mapping& mapping(MappingId m) const { return m_mappings[m]; }
    // Appends the live mappings (sessions) `filter` matches, as rows at `now`, until `out` holds
    // `limit`; returns false when it stopped there (more matched). Read-only (mapping_view.cpp).
    bool view_mappings(TimeMs now, const ViewFilter& filter, std::size_t limit, std::vector<MappingRow>& out) const;
    bool view_sessions(TimeMs now, const ViewFilter& filter, std::size_t limit, std::vector<SessionRow>& out) const;
    Session& session(SessionId s) { return m_sessions[s]; }
    std::uint32_t mapping_count() const { return m_mappings.live(); }
    std::uint32_t session_count() const { return m_sessions.live(); }
    std::size_t memory_bytes() const; // every table, preallocated

private:
    // One list per timeout, so that appending on refresh keeps each sorted.
    // kMapDue: past their timer, waiting for the release check (not a timer list).
    enum : std::uint8_t { kMapUdp, kMapTcp, kMapIcmp, kMapUdpShort, kMapLists, kMapDue = kMapLists, kParked = 0xff };
    enum : std::uint8_t { kPermitUdp, kPermitTcp, kPermitIcmp, kTcpTrans, kTcpEst, kPermitUdpShort, kSessionLists };
    // A count per address: mappings per inside host, inbound sessions per remote host.
    struct Host {
        Ipv4 addr = 0;
        std::uint32_t count = 0, list_next = kNil, hash_next = kNil;
        std::uint32_t since_s = 0; // counted since (clock seconds)
    };
    struct HostCounts {
        explicit HostCounts(std::uint32_t capacity) : slab(capacity), index(capacity) {}
        std::uint32_t get(Ipv4 addr, std::uint64_t seed) const;
        // The host's record after the change (count 0: gone), `now_s` its start when new.
        Host add(Ipv4 addr, int delta, std::uint64_t seed, std::uint32_t now_s = 0);
        std::size_t bytes() const { return slab.bytes() + index.bytes(); }
        Slab<Host> slab;
        HashIndex<Host, &Host::hash_next> index;
    };

    static unsigned proto_slot(Proto p) { return p == Proto::Udp ? 0 : p == Proto::Tcp ? 1 : 2; }
    static Endpoint mapping_remote(Behaviour mapping, Endpoint remote);
    static bool permits_implied(const Policy& p);
    bool mixed(Proto p, Behaviour current) const;
    bool udp_short(Proto p, std::uint16_t remote_port) const;
    std::uint8_t mapping_list(Proto p, std::uint16_t remote_port) const;
    std::uint32_t mapping_timeout(std::uint8_t list) const;
    std::uint32_t session_timeout(std::uint8_t list) const;
    std::uint64_t in2out_hash(const Mapping& m) const;
    std::uint64_t out2in_hash(Proto p, Endpoint ext) const;
    std::uint64_t session_hash(MappingId m, Endpoint remote) const;
    static bool live(const Session& s, TimeMs now) { return s.refs || s.deadline > now; }
    bool live(MappingId m, TimeMs now);
    MappingId find_mapping(Proto p, Endpoint internal, Endpoint key_remote) const; // live or not
    SessionId find_record(MappingId m, Endpoint remote) const;                // live or not
    Counter admit(Proto p, Ipv4 host) const;
    Counter admit_inbound(const Mapping& m, Ipv4 remote) const;
    void reap_mapping(MappingId m, TimeMs now);
    MappingId insert(Proto p, Endpoint internal, Endpoint remote, Endpoint external, TimeMs now,
                     bool forward = false);
    void count(const Mapping& m, int delta);
    void apply_forwards(bool rebuilt, TimeMs now);
    void grow_tables();
    void retime_lists(TimeMs now);
    void recount_hosts(TimeMs now);
    // Mappings are counted per inside host: for a quota, or for the port blocks' log.
    bool counts_hosts() const { return m_config.per_host_mappings || m_config.pool.block_size; }
    // The observer told that `h`'s block came into use (`used`) or went out of it.
    void tell_block(const Host& h, bool used, TimeMs now);
    bool live_view(const Mapping& m, TimeMs now, TimeMs* until) const;
    void arm_mapping(MappingId m, TimeMs now, std::uint16_t remote_port);
    void arm_session(SessionId s, std::uint8_t list, TimeMs now);
    std::uint8_t permit_list(Proto p, std::uint16_t remote_port) const;
    void hold_session(SessionId s);
    void unhold_session(SessionId s, TimeMs now);
    SessionId find_session(MappingId m, Endpoint remote, TimeMs now);
    SessionId add_session(MappingId m, Endpoint remote, std::uint8_t list, TimeMs now, bool inbound = false);
    void destroy_mapping(MappingId m, TimeMs now);
    // Off its list (a timer list or the due one); the caller puts it on another or frees it.
    void unlist_mapping(MappingId m);
    // Its own timer is over and no session is left: it ends, or under the release check waits.
    void mapping_over(MappingId m, TimeMs now);
    void destroy_session(SessionId s, TimeMs now, bool cascade = true);

    NatConfig m_config;
    std::uint64_t m_seed;
    Counters m_counters;
    PortAllocator m_ports;
    MappingObserver* m_observer = nullptr;
    Slab<Mapping> m_mappings;
    HashIndex<Mapping, &Mapping::in2out_next> m_in2out;
    HashIndex<Mapping, &Mapping::out2in_next> m_out2in;
    DeadlineList<Mapping> m_mapping_lists[kMapLists + 1]; // and the due mappings
    bool m_release_check = false;
    std::uint32_t m_due = 0; // mappings on the due list
    Slab<Session> m_sessions;
    HashIndex<Session, &Session::hash_next> m_session_index;
    DeadlineList<Session> m_session_lists[kSessionLists];
    std::uint32_t m_epoch = 0;
    HostCounts m_hosts;   // mappings per inside host (when a quota is set)
    HostCounts m_remotes; // inbound-opened sessions per remote address
    // When each mapping was made (clock seconds, by MappingId): beside the records, which stay
    // small and hot; read only when one is made or ends.
    std::vector<std::uint32_t> m_created_s;
    std::uint32_t m_inbound_total = 0;
    std::uint32_t m_by_behaviour[3][3] = {}; // live or unswept mappings per protocol slot and mapping behaviour
};

static_assert(sizeof(Mapping) <= 72 && sizeof(Session) <= 56, "records grew: check the prefetch and memory figures");

} // namespace conenat::core
