#include "engine/common/metrics_catalogue.hpp"

#include "conenat/core/nat/counters.hpp"

#include <array>
#include <string>

namespace conenat::engine {

namespace {

struct Entry {
    std::string_view stat;
    MetricInfo info;
};

constexpr MetricType C = MetricType::Counter;
constexpr MetricType G = MetricType::Gauge;

// Help texts shared by a family's lines.
constexpr std::string_view kTranslated = "Packets translated, by direction (out: inside to outside)";
constexpr std::string_view kDropped = "Packets the NAT dropped, by reason";
constexpr std::string_view kQueued = "Packets the engine took from its netfilter queues, by queue";
constexpr std::string_view kVerdicts = "Verdicts given to queued packets, by verdict";
constexpr std::string_view kNftQueued = "Packets our nftables rules sent to the queues, by direction";
constexpr std::string_view kEvents = "Conntrack events read, by kind";
constexpr std::string_view kNfqDropped = "Packets a netfilter queue lost, by queue and where (kernel: the queue "
                                         "was full; socket: our socket's buffer was)";
constexpr std::string_view kHandoffs = "Packets handed between workers (tun engine), by direction";

// The engines' own lines (the core's counters are below, from counters.hpp).
constexpr std::array kTable{
    // Every engine.
    Entry{"mappings", {"mappings", G, "", "Mappings now in the table"}},
    Entry{"sessions", {"sessions", G, "", "Sessions now in the table"}},
    Entry{"table_checks", {"table_checks_total", C, "", "Consistency checks of the mapping table"}},
    Entry{"table_consistency_errors",
          {"table_consistency_errors_total", C, "", "Consistency checks of the mapping table that failed"}},
    Entry{"rules_reinstalled",
          {"rules_reinstalled_total", C, "", "Times our nftables table was reinstalled after someone removed it"}},
    Entry{"icmp_replies_sent", {"icmp_replies_sent_total", C, "", "ICMP errors the engine sent itself"}},
    Entry{"workers", {"workers", G, "", "Worker threads"}},
    Entry{"held_now", {"syn_held_now", G, "", "Unsolicited inbound SYNs held now (RFC 5382 REQ-4)"}},
    Entry{"gso_packets", {"gso_packets_total", C, "", "GSO packets received"}},
    Entry{"partial_checksums",
          {"partial_checksum_packets_total", C, "", "Packets received with a partial checksum, completed"}},
    Entry{"verdict_drop", {"verdicts_total", C, "verdict=\"drop\"", kVerdicts}},
    Entry{"mapping_log_lines", {"mapping_log_lines_total", C, "", "Mapping log lines written"}},
    Entry{"mapping_log_lost",
          {"mapping_log_lost_lines_total", C, "", "Mapping log lines lost: a worker's buffer was full or the write failed"}},
    // The conntrack engine.
    Entry{"nft_queued_out", {"nft_queued_packets_total", C, "direction=\"out\"", kNftQueued}},
    Entry{"nft_queued_in", {"nft_queued_packets_total", C, "direction=\"in\"", kNftQueued}},
    Entry{"nft_guard_drops",
          {"nft_guard_dropped_packets_total", C, "", "Packets our nftables guard dropped (no mapping yet)"}},
    Entry{"nft_spoof_drops",
          {"nft_spoof_dropped_packets_total", C, "", "Packets our nftables anti-spoofing rule dropped"}},
    Entry{"queued_out", {"queued_packets_total", C, "queue=\"out\"", kQueued}},
    Entry{"queued_in", {"queued_packets_total", C, "queue=\"in\"", kQueued}},
    Entry{"verdict_repeat", {"verdicts_total", C, "verdict=\"repeat\"", kVerdicts}},
    Entry{"flows_begun",
          {"conntrack_flows_begun_total", C, "",
           "Outbound flows the queue thread entered in the table itself (their NEW event is not sent)"}},
    Entry{"syn_holds", {"conntrack_syn_holds_total", C, "", "Unsolicited inbound SYNs the conntrack engine held"}},
    Entry{"events_new", {"conntrack_events_total", C, "event=\"new\"", kEvents}},
    Entry{"events_destroy", {"conntrack_events_total", C, "event=\"destroy\"", kEvents}},
    Entry{"events_ignored", {"conntrack_events_total", C, "event=\"ignored\"", kEvents}},
    Entry{"events_lost",
          {"conntrack_events_lost_total", C, "", "Times conntrack events were lost (ENOBUFS), each followed by a resync"}},
    Entry{"resyncs", {"conntrack_resyncs_total", C, "", "Rebuilds of the mapping table from the conntrack table"}},
    Entry{"release_checks",
          {"conntrack_release_checks_total", C, "",
           "Conntrack dumps that looked for flows of mappings past their timer before ending them"}},
    Entry{"release_kept",
          {"conntrack_release_kept_total", C, "",
           "Mappings past their timer that a release check kept (a flow still used them, or new traffic came)"}},
    Entry{"mappings_due",
          {"conntrack_mappings_due", G, "", "Mappings past their timer waiting for the next release check"}},
    Entry{"nft_errors", {"nft_errors_total", C, "", "nftables requests that failed"}},
    Entry{"elements_added", {"nft_elements_added_total", C, "", "Elements added to our nftables maps"}},
    Entry{"elements_removed", {"nft_elements_removed_total", C, "", "Elements removed from our nftables maps"}},
    Entry{"conntrack_full",
          {"conntrack_table_full_checks_total", C, "",
           "Checks (about one a second) that found the kernel's conntrack table full or dropping"}},
    Entry{"conntrack_full_drops",
          {"conntrack_kernel_dropped_flows_total", C, "",
           "New flows the kernel dropped for a full conntrack table since conenatd started"}},
    Entry{"sync_replaced",
          {"conntrack_sync_replaced_mappings_total", C, "",
           "Mappings made in a takeover's window that ended for the synced binding of a committed flow"}},
    Entry{"takeover_drops",
          {"conntrack_takeover_dropped_packets_total", C, "",
           "First packets an HA pair member dropped while standby or in its takeover's grace"}},
    Entry{"event_buffer", {"conntrack_event_buffer_bytes", G, "", "Size of the conntrack event socket's buffer"}},
    Entry{"queue_out_kernel_dropped", {"nfqueue_dropped_packets_total", C, "queue=\"out\",where=\"kernel\"", kNfqDropped}},
    Entry{"queue_out_user_dropped", {"nfqueue_dropped_packets_total", C, "queue=\"out\",where=\"socket\"", kNfqDropped}},
    Entry{"queue_in_kernel_dropped", {"nfqueue_dropped_packets_total", C, "queue=\"in\",where=\"kernel\"", kNfqDropped}},
    Entry{"queue_in_user_dropped", {"nfqueue_dropped_packets_total", C, "queue=\"in\",where=\"socket\"", kNfqDropped}},
    // The queue engine.
    Entry{"queued_main", {"queued_packets_total", C, "queue=\"main\"", kQueued}},
    Entry{"queued_hairpin", {"queued_packets_total", C, "queue=\"hairpin\"", kQueued}},
    Entry{"verdict_accept", {"verdicts_total", C, "verdict=\"accept\"", kVerdicts}},
    Entry{"hairpin_handoffs", {"hairpin_handoffs_total", C, "", "Hairpinned packets handed to another worker"}},
    Entry{"hairpin_reinjected", {"hairpin_reinjected_packets_total", C, "", "Hairpinned packets sent back in"}},
    Entry{"router_icmp_passed",
          {"router_icmp_passed_packets_total", C, "", "ICMP messages for the router itself, passed untranslated"}},
    Entry{"truncated", {"truncated_packets_total", C, "", "Packets the queue delivered truncated"}},
    Entry{"raw_send_failed", {"raw_send_failures_total", C, "", "Packets the raw socket failed to send"}},
    Entry{"ttl_expired", {"ttl_expired_packets_total", C, "", "Packets whose TTL ran out in the NAT"}},
    Entry{"queue_errors", {"queue_errors_total", C, "", "Errors reading the netfilter queues"}},
    // The tun engine.
    Entry{"tun_read", {"tun_read_packets_total", C, "", "Packets read from the tun device"}},
    Entry{"tun_written", {"tun_written_packets_total", C, "", "Packets written to the tun device"}},
    Entry{"write_failed", {"tun_write_failures_total", C, "", "Packets the tun device refused"}},
    Entry{"read_errors", {"tun_read_errors_total", C, "", "Errors reading the tun device"}},
    Entry{"handed_out", {"handoffs_total", C, "direction=\"out\"", kHandoffs}},
    Entry{"handed_in", {"handoffs_total", C, "direction=\"in\"", kHandoffs}},
    Entry{"handoff_full", {"handoff_full_drops_total", C, "", "Packets dropped: a hand-off ring between workers was full"}},
    Entry{"passed_to_host", {"passed_to_host_packets_total", C, "", "Packets passed to the router itself"}},
    Entry{"fragments_in", {"fragments_received_total", C, "", "IPv4 fragments received"}},
    Entry{"datagrams_reassembled", {"datagrams_reassembled_total", C, "", "Datagrams reassembled from fragments"}},
    Entry{"fragments_dropped", {"fragments_dropped_total", C, "", "Fragments dropped (timeout, limits, overlap)"}},
};

// The lines the histograms replace.
constexpr std::array<std::string_view, 4> kLeftOut{"first_packet_us_p50", "first_packet_us_p99",
                                                   "program_maps_us_p50", "program_maps_us_p99"};

constexpr std::size_t kCoreCount = std::size_t(core::Counter::count_);

// The core counters' metric names and labels, made once.
struct CoreNames {
    std::array<std::string, kCoreCount> metric, labels;
};

const CoreNames& core_names() {
    static const CoreNames names = [] {
        CoreNames n;
        for (std::size_t i = 0; i < kCoreCount; ++i) {
            const std::string name(core::to_string(core::Counter(i)));
            if (name.starts_with("drop_")) n.labels[i] = "reason=\"" + name.substr(5) + "\"";
            n.metric[i] = name == "hairpinned"          ? "packets_hairpinned_total"
                          : name == "replies_built"     ? "icmp_replies_built_total"
                          : name == "rst_out_of_window" ? "tcp_rst_out_of_window_total"
                                                        : name + "_total";
        }
        return n;
    }();
    return names;
}

// The core's counters: *_total with their help from counters.hpp; the two directions and the
// drop reasons as labels of one metric each.
std::optional<MetricInfo> core_metric(std::string_view stat) {
    for (std::size_t i = 0; i < kCoreCount; ++i) {
        const auto c = core::Counter(i);
        if (core::to_string(c) != stat) continue;
        if (c == core::Counter::translated_out) return MetricInfo{"packets_translated_total", C, "direction=\"out\"", kTranslated};
        if (c == core::Counter::translated_in) return MetricInfo{"packets_translated_total", C, "direction=\"in\"", kTranslated};
        if (stat.starts_with("drop_")) return MetricInfo{"packets_dropped_total", C, core_names().labels[i], kDropped};
        return MetricInfo{core_names().metric[i], C, "", core::help(c)};
    }
    return std::nullopt;
}

} // namespace

std::optional<MetricInfo> metric_for(std::string_view stat) {
    if (auto m = core_metric(stat)) return m;
    for (const Entry& e : kTable)
        if (e.stat == stat) return e.info;
    for (std::string_view s : kLeftOut)
        if (s == stat) return std::nullopt;
    return MetricInfo{stat, G, "", "conenatd statistic (no description yet)"};
}

bool described(std::string_view stat) {
    if (core_metric(stat)) return true;
    for (const Entry& e : kTable)
        if (e.stat == stat) return true;
    for (std::string_view s : kLeftOut)
        if (s == stat) return true;
    return false;
}

} // namespace conenat::engine
