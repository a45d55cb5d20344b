#include "engine.hpp"

#include "conenat/core/nat/flow_key.hpp"
#include "conenat/util/ctl_request.hpp"
#include "conenat/util/log.hpp"
#include "conenat/util/rate_limit.hpp"
#include "engine/conntrack/rules.hpp"
#include "engine/common/stats_table.hpp"
#include "conenat/engine/clock.hpp"
#include "conenat/util/text.hpp"

#include <algorithm>
#include <sstream>

namespace conenat::engine {

using namespace conenat::core;


std::string conntrack_rules_text(const EngineConfig& o, io::nft::Queueing q) {
    return io::Nftables::render(conntrack_rules(o, q));
}


ConntrackEngine::ConntrackEngine(const EngineConfig& config)
    : m_config(config),
      m_maps(conntrack_maps(config)), m_table(config.nat, random_seed()),
      m_syn_hold(config.nat.max_held_syns, config.nat.max_held_syns_per_source) {
    m_table.set_observer(this);
    m_table.set_release_check(release_check(config));
}

ConntrackEngine::~ConntrackEngine() { stop(); }

namespace {
// EPERM from the bind: the kernel gives a queue to one socket only.
std::string queue_error(std::uint16_t num, const std::string& error) {
    const bool taken = error.find("Operation not permitted") != std::string::npos;
    return "NFQUEUE " + std::to_string(num) + ": " +
           (taken ? "bound by another process (another conenatd?); nothing installed" : error);
}
} // namespace

void ConntrackEngine::mapping_created(const Mapping& m, TimeMs now) {
    const io::MappingElement e{m.proto, m.internal(), {m.rem_addr, m.rem_port}, m.external()};
    m_to_add.push_back(e);
    (void)m_programmed.add(e, m.policy.mapping);
    // RFC 6888 §4: protocol, subscriber, external address and port (no destination, REQ-12).
    m_mapping_log.mapping_created(m, now);
    LOG_DEBUG("mapping created: %s %s -> %s", std::string(ctl::proto_name(m.proto)).c_str(),
              text::format_endpoint(m.internal()).c_str(), text::format_endpoint(m.external()).c_str());
}

void ConntrackEngine::mapping_removed(const Mapping& m, TimeMs created, TimeMs now) {
    m_mapping_log.mapping_removed(m, created, now);
    const io::MappingElement e{m.proto, m.internal(), {m.rem_addr, m.rem_port}, m.external()};
    if (m_reconfiguring) m_ended.emplace_back(m.proto, m.external());
    const bool withdrawn = m_programmed.withdrawn(e); // a release check took them out already
    std::vector<io::MappingElement> elements = m_programmed.take(e); // with its per-flow ones
    if (elements.empty() && !withdrawn) elements.push_back(e);
    for (const io::MappingElement& x : elements) {
        // Not yet in the kernel: forget it; otherwise delete it.
        const auto pending = std::find_if(m_to_add.begin(), m_to_add.end(), [&](const io::MappingElement& a) {
            return a.proto == x.proto && a.internal == x.internal && a.external == x.external && a.remote == x.remote;
        });
        if (pending != m_to_add.end()) m_to_add.erase(pending);
        else m_to_remove.push_back(x);
    }
    LOG_DEBUG("mapping removed: %s %s -> %s", std::string(ctl::proto_name(m.proto)).c_str(),
              text::format_endpoint(m.internal()).c_str(), text::format_endpoint(m.external()).c_str());
}

// Deletions first: a port freed and handed out again in the same round must not collide.
Status ConntrackEngine::flush_elements() {
    if (m_mapping_log.due()) m_mapping_log.flush();
    Status result;
    if (!m_to_remove.empty()) {
        if (Status s = m_rules->nft().remove_elements(m_maps, m_to_remove); !s) {
            ++m_nft_errors;
            LOG_ERROR("nftables: %s", s.error().c_str());
            result = s;
        }
        m_elements_removed += m_to_remove.size();
        m_to_remove.clear();
    }
    if (!m_to_add.empty()) {
        Status s = m_rules->nft().add(m_maps, m_to_add);
        // Our table is gone (a firewall reload flushed the ruleset): put it back with every
        // live mapping, m_to_add included, rather than retry into nothing.
        if (!s && m_config.rules_auto && s.error().find("No such file or directory") != std::string::npos)
            s = replay_rules("seen when adding map elements");
        if (!s) {
            // Kept for the next flush (within 250 ms): a mapping the kernel lacks would strand
            // its flows, whose first packets come back marked and are dropped by the guard.
            ++m_nft_errors;
            LOG_ERROR_LIMITED(10, "nftables: %s (retrying)", s.error().c_str()); // every 250 ms otherwise
            return s;
        }
        m_elements_added += m_to_add.size();
        m_to_add.clear();
    }
    return result;
}

void ConntrackEngine::program_flow(MappingId id, Endpoint remote) {
    const Mapping& m = m_table.mapping(id);
    const Behaviour key = m_maps.mapping(m.proto);
    const Endpoint want = key_remote(m.proto, key, remote_of(m.proto, remote));
    if (want == key_remote(m.proto, key, {m.rem_addr, m.rem_port})) return; // its own element does
    const io::MappingElement e{m.proto, m.internal(), want, m.external()};
    if (m_programmed.add(e, m.policy.mapping)) m_to_add.push_back(e);
}

Status ConntrackEngine::replay_rules(const std::string& why) {
    if (!m_rules || !m_rules->installed()) return Error{"nftables: no rule set to reinstall"};
    const std::vector<io::MappingElement> elements = m_programmed.all();
    if (Status s = m_rules->replay(m_maps, elements); !s) return s;
    ++m_rules_reinstalled;
    // Everything pending is in now; deletions of what the new table never had are moot.
    m_elements_added += m_to_add.size();
    m_to_add.clear();
    m_to_remove.clear();
    LOG_WARN("table ip %s was deleted by someone else (%s): reinstalled with %zu mappings", m_config.table.c_str(),
             why.c_str(), m_programmed.size());
    return {};
}

Status ConntrackEngine::start() {
    // The queues first: the kernel lets one socket bind a queue, so a second instance learns
    // here, before it installs or deletes anything, that another one owns them.
    io::QueueOptions q;
    q.maxlen = m_config.queue_maxlen;
    // Whole packets: a first packet cut at a copy range would not parse (its IP length and the
    // ICMP checksum cover all of it), and QUIC Initials (RFC 9000 §14.1) are >= 1200 bytes.
    q.copy_range = 0xffff;
    auto qout = io::NfQueue::open(m_config.queue_out, q);
    if (!qout) return Error{queue_error(m_config.queue_out, qout.error())};
    m_queue_out.emplace(std::move(qout.value()));
    auto qin = io::NfQueue::open(m_config.queue_in, q);
    if (!qin) return Error{queue_error(m_config.queue_in, qin.error())};
    m_queue_in.emplace(std::move(qin.value()));
    auto rules = InstalledRules::open();
    if (!rules) return Error{rules.error()};
    m_rules.emplace(std::move(rules.value()));
    if (m_config.rules_auto) {
        m_queueing = m_rules->queueing();
        CONENAT_TRY(m_rules->install(conntrack_rules(m_config, m_queueing)));
        LOG_INFO("installed table ip %s (queue %s)", m_config.table.c_str(),
                 m_queueing == io::nft::Queueing::Native ? "native" : "xt NFQUEUE");
    }
    auto raw = io::RawIpSocket::open();
    if (!raw) return Error{"raw socket: " + raw.error()};
    m_raw.emplace(std::move(raw.value()));
    // conntrackd's order: subscribe first, then dump, so no flow falls in between.
    auto events = io::ConntrackEvents::open(m_config.event_buffer);
    if (!events) return Error{"conntrack events: " + events.error()};
    m_events.emplace(std::move(events.value()));
    auto stop = io::EventFd::open();
    if (!stop) return Error{stop.error()};
    m_stop.emplace(std::move(stop.value()));
    init_role();
    resync(now_ms());
    m_started = true;
    m_event_thread = std::thread([this] { event_loop(); });
    m_queue_thread = std::thread([this] { queue_loop(); });
    if (Status s = start_watch(); !s) return s;
    LOG_INFO("conntrack engine: %u mappings rebuilt from the conntrack table", m_table.mapping_count());
    return {};
}

void ConntrackEngine::stop() {
    if (m_watch) m_watch->stop(); // no reinstall of a table we are about to remove
    if (m_started) {
        m_stop->signal();
        if (m_event_thread.joinable()) m_event_thread.join();
        if (m_queue_thread.joinable()) m_queue_thread.join();
        m_started = false;
        m_mapping_log.flush(); // the threads are gone: what they logged since the last tick
    }
    if (m_queue_in) { // nothing stays in a queue we are about to leave
        m_syn_hold.take_all([this](const SynHold::Held& h) { m_queue_in->verdict(h.handle, io::Verdict::Drop); });
        (void)m_queue_in->flush();
    }
    m_queue_out.reset();
    m_queue_in.reset();
    if (m_rules) m_rules->remove();
    m_watch.reset();
    m_stop.reset();
}

std::string ConntrackEngine::stats() {
    StatsText text;
    {
        std::lock_guard lock(m_mutex);
        text.add_core(m_table.counters());
        text.add("mappings", m_table.mapping_count());
        text.add("sessions", m_table.session_count());
        text.add("mappings_due", m_table.due_count());
        text.add("table_checks", m_check.runs());
        text.add("table_consistency_errors", m_check.failures());
        if (m_rules)
            if (auto c = m_rules->nft().counters(m_config.table); c) {
                text.add("nft_queued_out", (*c)[kChainSnatQueue]);
                text.add("nft_queued_in", (*c)[kChainDnatQueue]);
                text.add("nft_guard_drops", (*c)[kChainGuard]);
                text.add("nft_spoof_drops", (*c)[kChainSpoofGuard]);
            }
    }
    const std::pair<const char*, const std::atomic<std::uint64_t>*> own[] = {
        {"queued_out", &m_queued_out}, {"queued_in", &m_queued_in}, {"verdict_repeat", &m_repeat}, {"flows_begun", &m_flows_begun},
        {"verdict_drop", &m_dropped}, {"syn_holds", &m_held},
        {"events_new", &m_events_new}, {"events_destroy", &m_events_destroy}, {"events_ignored", &m_events_ignored},
        {"events_lost", &m_events_lost}, {"resyncs", &m_resyncs}, {"nft_errors", &m_nft_errors},
        {"elements_added", &m_elements_added}, {"elements_removed", &m_elements_removed},
        {"icmp_replies_sent", &m_replies_sent}, {"rules_reinstalled", &m_rules_reinstalled},
        {"conntrack_full", &m_conntrack_full}, {"conntrack_full_drops", &m_conntrack_drops},
        {"sync_replaced", &m_sync_replaced}, {"takeover_drops", &m_takeover_drops},
        {"release_checks", &m_release_checks}, {"release_kept", &m_release_kept}};
    for (const auto& [name, value] : own) text.add(name, value->load());
    text.add("event_buffer", m_event_buffer.load());
    text.add_lines(MappingLog::instance().stats());
    text.add("first_packet_us_p50", m_decide_us.quantile(0.5));
    text.add("first_packet_us_p99", m_decide_us.quantile(0.99));
    text.add("program_maps_us_p50", m_program_us.quantile(0.5));
    text.add("program_maps_us_p99", m_program_us.quantile(0.99));
    for (auto* q : {&m_queue_out, &m_queue_in})
        if (*q)
            if (auto st = (*q)->stats(); st) {
                const std::string prefix = q == &m_queue_out ? "queue_out" : "queue_in";
                text.add(prefix + "_kernel_dropped", st->queue_dropped);
                text.add(prefix + "_user_dropped", st->user_dropped);
            }
    return text.str();
}

std::vector<NamedLatency> ConntrackEngine::latencies() const {
    return {{"first_packet", "Time from a first packet's arrival in the queue to its verdict", m_decide_us.snapshot()},
            {"program_maps", "Time to program a new mapping into the nftables maps", m_program_us.snapshot()}};
}

} // namespace conenat::engine

