// The events thread: conntrack NEW/DESTROY -> the mapping table.
#include "engine.hpp"

#include "conenat/core/nat/flow_key.hpp"
#include "conenat/util/log.hpp"
#include "conenat/util/rate_limit.hpp"
#include "conenat/engine/clock.hpp"
#include "conenat/util/text.hpp"
#include "conenat/io/poll.hpp"

#include <algorithm>
#include <chrono>
#include <thread>


namespace conenat::engine {

using namespace conenat::core;

// Outbound: inside -> outside with source NAT to one of our addresses (the sender's side).
// Inbound: to one of our addresses, destination-NATed inside (the receiver's side). A
// hairpinned flow is both. The remote is what each side's mapping sees: the kernel map keys
// use the destination after DNAT (reply.src), and the receiver sees the sender's external
// endpoint (reply.dst).
std::size_t ConntrackEngine::classify(const io::FlowEvent& e, FlowKey (&keys)[2]) const {
    const io::FlowTuple &o = e.orig, &r = e.reply;
    std::size_t n = 0;
    const bool from_inside = internal(o.src.addr);
    if (from_inside && external(r.dst.addr) && !(o.src == r.dst))
        keys[n++] = {o.proto, o.src, remote_of(o.proto, r.src), r.dst, true, true};
    if (external(o.dst.addr) && internal(r.src.addr) && !(o.dst == r.src))
        keys[n++] = {o.proto, r.src, remote_of(o.proto, r.dst), o.dst, false, from_inside};
    return n;
}

// Called with m_mutex held.
void ConntrackEngine::apply(const io::FlowEvent& e, TimeMs now, bool dumped) {
    if (e.portid && m_events && e.portid == m_events->portid()) return; // our own ctnetlink writes
    FlowKey keys[2];
    const std::size_t n = classify(e, keys);
    if (n == 0) ++m_events_ignored;
    (e.type == io::FlowEvent::Destroy ? m_events_destroy : m_events_new) += n ? 1 : 0;
    // A NEW event caused by another process is a flow written over ctnetlink: conntrackd's
    // commit of the peer router's flows on a takeover (a dump's entries carry our own portid).
    const bool synced = !dumped && e.type == io::FlowEvent::New && e.portid != 0;
    if (synced && n) m_last_synced = now;
    for (std::size_t i = 0; i < n; ++i) {
        if (synced && keys[i].outbound) yield_to_synced(keys[i], now);
        apply(keys[i], e.type == io::FlowEvent::Destroy, now);
    }
    if (m_yielded.empty()) return;
    // The maps first: a packet of a deleted flow must find the synced binding, not ours.
    (void)flush_elements();
    for (const auto& [proto, external] : m_yielded) (void)io::delete_conntrack_nat(proto, external);
    m_yielded.clear();
}

void ConntrackEngine::apply(const FlowKey& k, bool destroy, TimeMs now) {
    MappingId m = k.outbound ? m_table.find_outbound(k.proto, k.internal, k.remote, now)
                             : m_table.find_inbound(k.proto, k.external, now);
    if (destroy) {
        if (m != kNil && m_table.mapping(m).external() == k.external) m_table.flow_end(m, k.remote, now);
        return;
    }
    if (m == kNil && k.outbound) { // a flow from before us (restart, kill -9): take its mapping over
        Counter why{};
        m = m_table.adopt(k.proto, k.internal, k.remote, k.external, now, why);
        if (m == kNil) {
            LOG_DEBUG("flow %s -> %s not adopted: %s", text::format_endpoint(k.internal).c_str(),
                      text::format_endpoint(k.external).c_str(), std::string(to_string(why)).c_str());
            return;
        }
    }
    if (m == kNil || m_table.mapping(m).external() != k.external || m_table.mapping(m).internal() != k.internal) {
        ++m_events_ignored;
        return;
    }
    // Flows opened from outside are bounded by the table (per mapping, per remote, in all):
    // past a bound the kernel flow runs on, but holds no session a LAN host could need.
    (void)m_table.flow_begin(m, k.remote, now, k.from_inside ? Direction::Outbound : Direction::Inbound);
    // RFC 5382 REQ-4: an outbound SYN of a connection whose inbound SYN is held: drop that one.
    if (k.outbound && k.proto == Proto::Tcp)
        if (const std::uint32_t token = m_syn_hold.release(k.external, k.remote)) m_released.push_back(token);
}

bool ConntrackEngine::dump(std::vector<io::FlowEvent>& entries) {
    entries.clear();
    if (Status s = io::dump_conntrack([&](const io::FlowEvent& e) { entries.push_back(e); }); !s) {
        LOG_ERROR("conntrack dump: %s", s.error().c_str());
        return false;
    }
    return true;
}

// Called with m_mutex held.
void ConntrackEngine::apply_dump(const std::vector<io::FlowEvent>& entries, TimeMs now) {
    m_table.resync_begin();
    for (const io::FlowEvent& e : entries) apply(e, now, true);
    m_table.resync_end(now);
    ++m_resyncs;
    LOG_DEBUG("resync: %zu conntrack entries, %u mappings", entries.size(), m_table.mapping_count());
}

void ConntrackEngine::resync(TimeMs now) {
    std::vector<io::FlowEvent> entries;
    if (!dump(entries)) return;
    std::lock_guard lock(m_mutex);
    apply_dump(entries, now);
    (void)flush_elements();
}

// The release check (rules.hpp, unseen_flows): the kernel starts flows on our mappings without
// telling us, so a mapping past its timer with no flow we know of may still carry some. Its
// elements leave the maps first (from then on no flow can start on it but through the queue
// thread, which puts them back), then a dump shows the flows it has: a mapping with none ends,
// the others take their flows as sessions and their elements return. Between two checks at
// least kReleaseCheckMs pass, and 20 times the last check's time: each is a full dump (a
// resync, which it also stands for).
void ConntrackEngine::check_release(TimeMs now) {
    struct Due {
        MappingId id;
        Proto proto;
        Endpoint internal, external;
        bool withdrawn; // its elements went out (it had some in the maps)
    };
    std::vector<Due> due;
    {
        std::lock_guard lock(m_mutex);
        std::vector<io::MappingElement> out;
        m_table.for_each_due([&](MappingId id, const Mapping& m) {
            const std::vector<io::MappingElement> elements = m_programmed.withdraw(m.proto, m.internal(), m.external());
            due.push_back({id, m.proto, m.internal(), m.external(), !elements.empty()});
            out.insert(out.end(), elements.begin(), elements.end());
        });
        // Their own batch (all or nothing): refused, they are still in the maps, or none is (our
        // table is gone, and its reinstall puts them back): nothing is settled this time.
        if (Status s = out.empty() ? Status{} : m_rules->nft().remove_elements(m_maps, out); !s) {
            ++m_nft_errors;
            LOG_ERROR_LIMITED(10, "nftables: release check: %s", s.error().c_str());
            for (const Due& d : due) (void)m_programmed.reinstate(d.proto, d.internal, d.external);
            return;
        }
        m_elements_removed += out.size();
    }
    std::vector<io::FlowEvent> entries;
    const bool dumped = dump(entries);
    std::lock_guard lock(m_mutex);
    if (dumped) apply_dump(entries, now);
    std::uint64_t released = 0;
    for (const Due& d : due) {
        const Mapping& m = m_table.mapping(d.id);
        const bool same = m.proto == d.proto && m.internal() == d.internal && m.external() == d.external;
        // Its elements back already: the queue thread let a first packet through it meanwhile,
        // maybe an inbound one whose flow the events thread has not entered yet. It waits for
        // the next check.
        const bool used = d.withdrawn && !m_programmed.withdrawn({d.proto, d.internal, {}, d.external});
        if (dumped && same && !used && m_table.due(d.id) && m_table.settle(d.id, now)) ++released;
        // Kept (a flow found, traffic since, or no dump): back into the maps.
        for (const io::MappingElement& e : m_programmed.reinstate(d.proto, d.internal, d.external))
            m_to_add.push_back(e);
    }
    (void)flush_elements();
    ++m_release_checks;
    m_release_kept += due.size() - released;
    LOG_DEBUG("release check: %zu mappings due, %llu ended, %zu conntrack entries", due.size(),
              (unsigned long long)released, entries.size());
}

// No event tells of a full table: the kernel drops the new flow before it exists, or makes room
// for it by evicting an unreplied entry (early_drop; the count then stays just under the limit).
// Its count, limit, drop and eviction counters (read once a second, off the packets' path) do.
void ConntrackEngine::watch_conntrack_table(TimeMs now) {
    constexpr TimeMs kLogEveryMs = 60'000;
    auto read = io::read_conntrack_table();
    if (!read) return;
    const io::ConntrackTableState* st = &read.value();
    if (!m_ct_drops_base) m_ct_drops_base = st->drops;
    if (!m_ct_evictions_base) m_ct_evictions_base = st->evictions;
    const std::uint64_t drops = st->drops >= *m_ct_drops_base ? st->drops - *m_ct_drops_base : 0;
    const std::uint64_t evictions =
        st->evictions >= *m_ct_evictions_base ? st->evictions - *m_ct_evictions_base : 0;
    const bool full = st->full() || drops > m_ct_drops_seen || evictions > m_ct_evictions_seen;
    m_conntrack_drops = drops;
    m_ct_drops_seen = drops;
    m_ct_evictions_seen = evictions;
    if (full) ++m_conntrack_full;
    if (full && (!m_ct_full || !m_ct_full_logged || now - *m_ct_full_logged >= kLogEveryMs)) {
        LOG_WARN("conntrack table full (%llu entries, limit %llu; %llu new flows dropped so far): the kernel drops "
                 "new flows; raise net.netfilter.nf_conntrack_max",
                 (unsigned long long)st->count, (unsigned long long)st->max, (unsigned long long)drops);
        m_ct_full_logged = now;
    }
    m_ct_full = full;
}

namespace {
constexpr std::size_t kStreamBatch = 2;
// At most one release check (a full conntrack dump) this often, and never more than 1/20 of the
// time on dumps (a big table's dump takes long); a due mapping waits that long.
constexpr TimeMs kReleaseCheckMs = 5000;
constexpr TimeMs kReleaseCheckShare = 20;
constexpr auto kGather = std::chrono::milliseconds(1);
} // namespace

void ConntrackEngine::event_loop() {
    std::vector<io::FlowEvent> batch;
    TimeMs last_expire = now_ms(), last_resync = last_expire, last_release = 0, release_gap = kReleaseCheckMs;
    m_event_buffer = m_events->buffer_size();
    bool check_table = true;
    const TimeMs resync_ms = TimeMs(m_config.resync_interval_s) * 1000; // not changed live
    io::Poller poller;
    poller.watch(m_events->fd());
    const std::size_t stop = poller.watch(*m_stop);
    for (;;) {
        (void)poller.wait(250);
        if (poller.readable(stop)) return;
        batch.clear();
        auto read = m_events->read([&](const io::FlowEvent& e) { batch.push_back(e); });
        const TimeMs now = now_ms();
        m_event_beat.beat(now);
        {
            std::lock_guard lock(m_mutex);
            for (const io::FlowEvent& e : batch) apply(e, now);
            if (now - last_expire >= 1000) {
                m_table.expire(now); // under the release check, mappings past their timer become due
                last_expire = now;
                check_table = true;
            }
            m_check.run_if_due(m_table, "conntrack engine");
            (void)flush_elements();
            if (check_table) m_mapping_log.flush(); // each second
        }
        if (check_table) {
            watch_conntrack_table(now);
            check_table = false;
            if (due() && now - last_release >= release_gap) {
                check_release(now);
                last_release = last_resync = now_ms();
                release_gap = std::max(kReleaseCheckMs, kReleaseCheckShare * (last_release - now));
            }
        }
        // Events come in a stream (more than one a wake-up): let the next ones gather in the
        // socket's buffer (8 MB by default) for a moment. While nobody waits on the socket, the
        // kernel queues an event without waking a thread, which is much of what an event costs
        // the CPU that forwards the flow; one read then takes hundreds.
        if (batch.size() >= kStreamBatch) std::this_thread::sleep_for(kGather);
        if (!read) {
            LOG_ERROR("conntrack events: %s", read.error().c_str());
        } else if (read.value() == io::ConntrackEvents::Read::Lost) {
            // Events were dropped: grow the buffer and rebuild from a dump, never drift.
            ++m_events_lost;
            m_event_buffer = m_events->grow_buffer();
            LOG_WARN("conntrack events lost (ENOBUFS): buffer now %zu bytes, resyncing", std::size_t(m_event_buffer));
            resync(now);
            last_resync = now;
        } else if (now - last_resync >= resync_ms) {
            // Entries created before we subscribed never send DESTROY (kernel-facts): a periodic
            // dump ends them, and catches any drift.
            resync(now);
            last_resync = now;
        }
    }
}

} // namespace conenat::engine
