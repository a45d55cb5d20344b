// Command line and config file. The only translation unit that includes Boost.
#include "conenat/daemon/options.hpp"

#include "conenat/util/text.hpp"

#include <boost/program_options.hpp>

#ifndef CONENAT_VERSION
#error "CONENAT_VERSION: the Makefile passes the one VERSION"
#endif

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>

namespace conenat::daemon {

namespace po = boost::program_options;

namespace {

constexpr const char* kUsage = "usage: conenatd [options]\n"
                               "Gives this router the NAT type you choose (RFC 4787), for UDP, TCP and ICMP.\n";

// A bad value: the message names the option, as the user typed it.
struct BadOption : std::runtime_error {
    BadOption(const std::string& option, const std::string& why) : std::runtime_error("--" + option + ": " + why) {}
};

template <typename T>
T number(const po::variables_map& vm, const char* name, std::uint64_t min, std::uint64_t max) {
    const std::string& s = vm[name].as<std::string>();
    const auto v = text::parse_uint(s, min, max);
    if (!v) throw BadOption(name, "expected a number in " + std::to_string(min) + ".." + std::to_string(max) + ", got '" + s + "'");
    return T(*v);
}

core::Behaviour behaviour(const po::variables_map& vm, const char* name) {
    const std::string& s = vm[name].as<std::string>();
    const auto b = core::parse_behaviour(s);
    if (!b) throw BadOption(name, "expected endpoint-independent, address-dependent or address-and-port-dependent, got '" + s + "'");
    return *b;
}

po::options_description describe() {
    po::options_description d("options (config file keys are the same names, without --)");
    d.add_options()
        ("help,h", "print this help")
        ("version", "print the version")
        ("config", po::value<std::string>(), "read options from FILE (key = value lines)")
        ("engine", po::value<std::string>()->default_value("conntrack"), "conntrack (kernel NAT, default) | queue | tun")
        ("nat-type", po::value<std::string>()->default_value("full-cone"),
         "full-cone | restricted-cone | port-restricted-cone | symmetric")
        ("mapping", po::value<std::string>(), "override mapping: endpoint-independent | address-dependent | address-and-port-dependent")
        ("filtering", po::value<std::string>(), "override filtering: the same three behaviours")
        ("external-if", po::value<std::string>(), "WAN interface (required)")
        ("internal-net", po::value<std::vector<std::string>>()->composing(),
         "LAN prefix, e.g. 10.0.0.0/24 (required; repeatable: LAN, guest, VPN)")
        ("external-ip", po::value<std::vector<std::string>>()->composing(),
         "external address (repeatable; default: the WAN interface's, followed as they change)")
        ("forward", po::value<std::vector<std::string>>()->composing(),
         "static port forward, e.g. udp:51820=192.168.1.10:51820 or tcp:203.0.113.1:8080=10.0.0.5:80 (repeatable)")
        ("ports", po::value<std::string>(),
         "external port ranges, e.g. 20000-29999 (default 1024-65535 without net.ipv4.ip_local_port_range)")
        ("port-block-size", po::value<std::string>(), "give each LAN host its own block of N ports (RFC 7422)")
        ("map-e", po::value<std::string>(), "MAP-E port set: psid=P,psid-len=K,offset=A (RFC 7597)")
        ("port-secret", po::value<std::string>(),
         "HA pair: a shared secret (16-128 printable characters, the same on both routers) that makes a port "
         "which cannot be preserved a keyed choice (RFC 6056 3.3.3), so an idle mapping keeps its port on failover")
        ("per-host-limit", po::value<std::string>(), "mappings per LAN host (default 4096; 0: none)")
        ("inbound-per-mapping", po::value<std::string>(), "sessions outside hosts may open on one mapping (default 1024)")
        ("inbound-per-remote", po::value<std::string>(), "sessions one outside address may open, all mappings (default 128)")
        ("held-syns-per-source", po::value<std::string>(), "unsolicited SYNs held from one outside address (default 8)")
        ("max-mappings", po::value<std::string>(), "mappings in all (default 65536)")
        ("udp-timeout", po::value<std::string>(), "seconds (default 300, at least 120)")
        ("udp-short-timeout", po::value<std::string>(), "seconds, for UDP to --udp-short-ports only (RFC 4787 REQ-5a)")
        ("udp-short-ports", po::value<std::string>(), "well-known destination ports for --udp-short-timeout, e.g. 53,123")
        ("tcp-established-timeout", po::value<std::string>(), "seconds (default 7440)")
        ("tcp-transitory-timeout", po::value<std::string>(), "seconds (default 240)")
        ("icmp-timeout", po::value<std::string>(), "seconds (default 60)")
        ("exhausted-reply", po::value<std::string>()->default_value("admin-prohibited"),
         "ICMP error for a flow that gets no mapping: admin-prohibited (3/13) | host-unreachable (3/1) | none")
        ("foreground", po::bool_switch(), "stay in the foreground, log to stderr")
        ("pid-file", po::value<std::string>()->default_value("/run/conenatd/conenatd.pid"),
         "pid file (locked; its directory is created when missing)")
        ("stats-file", po::value<std::string>(), "write counters to FILE every second")
        ("mapping-log", po::value<std::string>()->default_value("off"),
         "log for operators (RFC 6888 REQ-12, RFC 7422): off | mappings (a line per mapping created and removed) | "
         "blocks (a line per port block taken and given up; needs --port-block-size)")
        ("mapping-log-file", po::value<std::string>(), "append the mapping log to FILE (reopened on SIGHUP) instead of syslog")
        ("mapping-log-syslog-socket", po::value<std::string>()->default_value("/dev/log"),
         "the syslog datagram socket the mapping log goes to without --mapping-log-file")
        ("metrics-file", po::value<std::string>(),
         "write the statistics in the Prometheus text format to FILE every second (atomically: for "
         "node_exporter's textfile collector, name it *.prom)")
        ("control-socket", po::value<std::string>()->default_value("/run/conenatd/conenatd.sock"),
         "conenatctl's UNIX socket (root-only)")
        ("log-level", po::value<std::string>()->default_value("info"), "error | warning | notice | info | debug")
        ("rules", po::value<std::string>()->default_value("auto"), "auto: install and remove the rules | manual: the user does")
        ("print-rules", po::bool_switch(), "print the rules and exit")
        ("print-rules-without-queues", po::bool_switch(),
         "print the rules without their queue statements (for nft -f on kernels without the nft queue "
         "statement; examples/iptables-*.sh queue those packets) and exit")
        ("table", po::value<std::string>()->default_value("conenatd"), "name of the nftables table")
        ("queue-out", po::value<std::string>()->default_value("0"),
         "NFQUEUE number for outbound first packets; queue engine: the first of its 2 x --queues queues")
        ("queue-in", po::value<std::string>()->default_value("1"), "NFQUEUE number for inbound first packets")
        ("mark", po::value<std::string>()->default_value("0x00100000"), "packet mark bit for permitted inbound packets")
        ("event-buffer", po::value<std::string>()->default_value("8388608"), "conntrack event socket buffer, bytes")
        ("resync-interval", po::value<std::string>()->default_value("120"), "seconds between conntrack resyncs")
        ("conntrack-events", po::value<std::string>()->default_value("nat"),
         "conntrack engine: nat: conntrack events for the NAT's flows only | all: for every flow (conntrackd syncs them all)")
        ("takeover-grace", po::value<std::string>()->default_value("0"),
         "conntrack engine, HA pair (with --external-ip): standby while the WAN lacks the external address; after "
         "it comes, first packets wait for the synced flows (ms when none comes; 0: a router on its own)")
        ("queues", po::value<std::string>()->default_value("1"), "queue / tun engine: worker threads, each with its own queues")
        ("fail-open", po::bool_switch(), "queue engine: when a queue is full or nobody listens, pass packets untranslated")
        ("tun-name", po::value<std::string>()->default_value("conenat0"), "tun engine: device name");
    return d;
}

Options build(const po::variables_map& vm) {
    Options o;
    const std::string engine = vm["engine"].as<std::string>();
    if (engine == "conntrack") o.engine = EngineKind::Conntrack;
    else if (engine == "queue") o.engine = EngineKind::Queue;
    else if (engine == "tun") o.engine = EngineKind::Tun;
    else throw BadOption("engine", "expected conntrack, queue or tun, got '" + engine + "'");

    const std::string type = vm["nat-type"].as<std::string>();
    const auto t = core::parse_nat_type(type);
    if (!t) throw BadOption("nat-type", "expected full-cone, restricted-cone, port-restricted-cone or symmetric, got '" + type + "'");
    o.nat.set_type(*t);
    if (vm.count("mapping")) o.nat.udp.mapping = o.nat.tcp.mapping = o.nat.icmp.mapping = behaviour(vm, "mapping");
    if (vm.count("filtering")) o.nat.udp.filtering = o.nat.tcp.filtering = o.nat.icmp.filtering = behaviour(vm, "filtering");

    if (!vm.count("external-if")) throw BadOption("external-if", "required (the WAN interface)");
    o.external_if = vm["external-if"].as<std::string>();
    if (o.external_if.empty() || o.external_if.size() > 15) throw BadOption("external-if", "not an interface name: '" + o.external_if + "'");
    if (!vm.count("internal-net")) throw BadOption("internal-net", "required (the LAN prefix, e.g. 10.0.0.0/24)");
    std::string why;
    for (const std::string& s : vm["internal-net"].as<std::vector<std::string>>()) {
        const auto net = text::parse_cidr(s, &why);
        if (!net) throw BadOption("internal-net", why + ": '" + s + "'");
        const core::Prefix p{net->addr, net->len};
        for (const core::Prefix& q : o.internal)
            if (q.contains(p.addr) || p.contains(q.addr))
                throw BadOption("internal-net", "'" + s + "' overlaps " + text::format_ipv4(q.addr) + "/" + std::to_string(q.len));
        o.internal.push_back(p);
    }

    o.nat.pool.external_addrs.clear();
    if (vm.count("external-ip"))
        for (const std::string& a : vm["external-ip"].as<std::vector<std::string>>()) {
            const auto addr = text::parse_ipv4(a);
            if (!addr) throw BadOption("external-ip", "not an IPv4 address: '" + a + "'");
            o.nat.pool.external_addrs.push_back(*addr);
        }
    o.external_from_if = o.nat.pool.external_addrs.empty();
    if (vm.count("ports") && vm.count("map-e")) throw BadOption("map-e", "cannot be combined with --ports");
    o.default_ports = !vm.count("ports") && !vm.count("map-e");
    if (vm.count("ports")) {
        const auto ranges = text::parse_port_ranges(vm["ports"].as<std::string>(), &why);
        if (!ranges) throw BadOption("ports", why);
        o.nat.pool.ports = core::PortSet::from_ranges(*ranges);
    }
    if (vm.count("map-e")) {
        auto set = text::parse_map_e(vm["map-e"].as<std::string>(), &why);
        if (!set) throw BadOption("map-e", why);
        o.nat.pool.ports = std::move(*set);
    }
    if (o.nat.pool.ports.empty()) throw BadOption(vm.count("map-e") ? "map-e" : "ports", "the port set is empty");
    if (vm.count("port-block-size")) {
        o.nat.pool.block_size = number<std::uint32_t>(vm, "port-block-size", 1, 65535);
        if (o.internal.size() > 1)
            throw BadOption("port-block-size", "RFC 7422 blocks cover one --internal-net; " + std::to_string(o.internal.size()) + " given");
        o.nat.pool.internal_base = o.internal.front().addr & o.internal.front().mask();
        if (o.nat.pool.block_size > o.nat.pool.ports.size())
            throw BadOption("port-block-size", "larger than the port set (" + std::to_string(o.nat.pool.ports.size()) + " ports)");
    }
    if (vm.count("port-secret")) {
        // The value is a secret: the message says what is wrong with it, never the value itself.
        const std::string& secret = vm["port-secret"].as<std::string>();
        if (secret.size() < 16 || secret.size() > 128)
            throw BadOption("port-secret", "expected 16..128 printable characters, got " + std::to_string(secret.size()));
        const auto bad = std::find_if(secret.begin(), secret.end(), [](char c) { return c < 0x21 || c > 0x7e; });
        if (bad != secret.end())
            throw BadOption("port-secret", "character " + std::to_string(bad - secret.begin() + 1) +
                                               " is not printable ASCII (no spaces)");
        o.nat.pool.port_key = core::sip_key_of(secret);
    }
    if (vm.count("forward"))
        for (const std::string& s : vm["forward"].as<std::vector<std::string>>()) {
            auto f = text::parse_forward(s, &why);
            if (!f) throw BadOption("forward", why + ": '" + s + "'");
            if (!o.is_internal(f->internal.addr))
                throw BadOption("forward", "'" + s + "': " + text::format_ipv4(f->internal.addr) + " lies outside every --internal-net");
            o.nat.forwards.push_back(*f);
        }
    if (vm.count("per-host-limit")) o.nat.per_host_mappings = number<std::uint32_t>(vm, "per-host-limit", 0, 1u << 20);
    if (vm.count("inbound-per-mapping"))
        o.nat.max_inbound_per_mapping = number<std::uint32_t>(vm, "inbound-per-mapping", 1, 1u << 26);
    if (vm.count("inbound-per-remote"))
        o.nat.max_inbound_per_remote = number<std::uint32_t>(vm, "inbound-per-remote", 1, 1u << 26);
    if (vm.count("held-syns-per-source"))
        o.nat.max_held_syns_per_source = number<std::uint32_t>(vm, "held-syns-per-source", 1, 1u << 16);
    if (vm.count("max-mappings")) o.nat.max_mappings = number<std::uint32_t>(vm, "max-mappings", 1, 1u << 26);
    o.nat.max_sessions = o.nat.max_mappings * 4;
    const std::uint64_t day_s = 24 * 3600; // timers stay far below the clock's range
    if (vm.count("udp-timeout")) o.nat.timeouts.udp_ms = 1000 * number<std::uint32_t>(vm, "udp-timeout", 120, day_s);
    if (vm.count("udp-short-timeout") != vm.count("udp-short-ports"))
        throw BadOption(vm.count("udp-short-timeout") ? "udp-short-ports" : "udp-short-timeout",
                        "--udp-short-timeout and --udp-short-ports go together");
    if (vm.count("udp-short-ports")) {
        o.nat.timeouts.udp_short_ms = 1000 * number<std::uint32_t>(vm, "udp-short-timeout", 1, day_s);
        const auto ranges = text::parse_port_ranges(vm["udp-short-ports"].as<std::string>(), &why);
        if (!ranges) throw BadOption("udp-short-ports", why);
        for (const auto& r : *ranges) {
            if (r.last >= o.nat.timeouts.udp_short_ports.size())
                throw BadOption("udp-short-ports", "RFC 4787 REQ-5a allows well-known ports only (1-1023), got " +
                                                       std::to_string(r.last));
            for (unsigned p = r.first; p <= r.last; ++p) o.nat.timeouts.udp_short_ports[p] = true;
        }
    }
    if (vm.count("tcp-established-timeout"))
        o.nat.timeouts.tcp_established_ms = 1000 * number<std::uint32_t>(vm, "tcp-established-timeout", 1, day_s);
    if (vm.count("tcp-transitory-timeout"))
        o.nat.timeouts.tcp_transitory_ms = 1000 * number<std::uint32_t>(vm, "tcp-transitory-timeout", 1, day_s);
    if (vm.count("icmp-timeout")) o.nat.timeouts.icmp_ms = 1000 * number<std::uint32_t>(vm, "icmp-timeout", 1, day_s);
    const std::string reply = vm["exhausted-reply"].as<std::string>();
    if (reply == "admin-prohibited") o.nat.on_exhausted = core::ExhaustedReply::AdminProhibited;
    else if (reply == "host-unreachable") o.nat.on_exhausted = core::ExhaustedReply::HostUnreachable;
    else if (reply == "none") o.nat.on_exhausted = core::ExhaustedReply::None;
    else throw BadOption("exhausted-reply", "expected admin-prohibited, host-unreachable or none, got '" + reply + "'");

    o.foreground = vm["foreground"].as<bool>();
    o.pid_file = vm["pid-file"].as<std::string>();
    if (vm.count("stats-file")) o.stats_file = vm["stats-file"].as<std::string>();
    if (vm.count("metrics-file")) o.metrics_file = vm["metrics-file"].as<std::string>();
    o.control_socket = vm["control-socket"].as<std::string>();
    if (o.control_socket.empty() || o.control_socket.size() > 107)
        throw BadOption("control-socket", "not a socket path (1-107 bytes): '" + o.control_socket + "'");
    const std::string mapping_log = vm["mapping-log"].as<std::string>();
    if (mapping_log == "off") o.mapping_log.mode = engine::MappingLogMode::Off;
    else if (mapping_log == "mappings") o.mapping_log.mode = engine::MappingLogMode::Mappings;
    else if (mapping_log == "blocks") o.mapping_log.mode = engine::MappingLogMode::Blocks;
    else throw BadOption("mapping-log", "expected off, mappings or blocks, got '" + mapping_log + "'");
    if (o.mapping_log.mode == engine::MappingLogMode::Blocks && !o.nat.pool.block_size)
        throw BadOption("mapping-log", "blocks needs port blocks (--port-block-size N); without them use mappings");
    if (vm.count("mapping-log-file")) {
        o.mapping_log.file = vm["mapping-log-file"].as<std::string>();
        if (o.mapping_log.file.empty()) throw BadOption("mapping-log-file", "empty path");
    }
    o.mapping_log.syslog_socket = vm["mapping-log-syslog-socket"].as<std::string>();
    const std::string level = vm["log-level"].as<std::string>();
    if (level == "error") o.log_level = LogLevel::Error;
    else if (level == "warning") o.log_level = LogLevel::Warning;
    else if (level == "notice") o.log_level = LogLevel::Notice;
    else if (level == "info") o.log_level = LogLevel::Info;
    else if (level == "debug") o.log_level = LogLevel::Debug;
    else throw BadOption("log-level", "expected error, warning, notice, info or debug, got '" + level + "'");
    const std::string rules = vm["rules"].as<std::string>();
    if (rules != "auto" && rules != "manual") throw BadOption("rules", "expected auto or manual, got '" + rules + "'");
    o.rules_auto = rules == "auto";
    o.print_queue_statements = !vm["print-rules-without-queues"].as<bool>();
    o.print_rules = vm["print-rules"].as<bool>() || !o.print_queue_statements;
    o.table = vm["table"].as<std::string>();
    if (o.table.empty() || o.table.size() > 64) throw BadOption("table", "must be 1..64 characters");
    o.queue_out = number<std::uint16_t>(vm, "queue-out", 0, 65535);
    o.queue_in = number<std::uint16_t>(vm, "queue-in", 0, 65535);
    if (o.queue_in == o.queue_out) throw BadOption("queue-in", "must differ from --queue-out");
    o.mark = number<std::uint32_t>(vm, "mark", 1, 0xffffffffu);
    if (o.mark & (o.mark - 1)) throw BadOption("mark", "must be a single bit, e.g. 0x00100000");
    o.event_buffer = number<std::size_t>(vm, "event-buffer", 4096, 1u << 30);
    o.resync_interval_s = number<std::uint32_t>(vm, "resync-interval", 1, 86400);
    const std::string events = vm["conntrack-events"].as<std::string>();
    if (events != "nat" && events != "all") throw BadOption("conntrack-events", "expected nat or all, got '" + events + "'");
    o.conntrack_events_all = events == "all";
    o.takeover_grace_ms = number<std::uint32_t>(vm, "takeover-grace", 0, 60000);
    if (o.engine != EngineKind::Conntrack && (o.conntrack_events_all || o.takeover_grace_ms))
        throw BadOption(o.takeover_grace_ms ? "takeover-grace" : "conntrack-events", "only for --engine conntrack");
    if (o.takeover_grace_ms && o.external_from_if)
        throw BadOption("takeover-grace", "needs --external-ip: the address keepalived moves between the two routers");
    o.queues = number<unsigned>(vm, "queues", 1, 64);
    if (o.engine != EngineKind::Conntrack && o.nat.pool.block_size == 0 && o.queues > o.nat.pool.ports.size())
        throw BadOption("queues", "more workers than external ports (" + std::to_string(o.nat.pool.ports.size()) + ")");
    o.fail_open = vm["fail-open"].as<bool>();
    o.tun_name = vm["tun-name"].as<std::string>();
    if (o.tun_name.empty() || o.tun_name.size() > 15) throw BadOption("tun-name", "not an interface name: '" + o.tun_name + "'");
    return o;
}

} // namespace

namespace {

// One "key = value" line of the config file, where it stood.
struct ConfigLine {
    std::string key, value;
    int line = 0;
};

// An error in the config file: "FILE:LINE: key: why".
struct BadLine : std::runtime_error {
    BadLine(const std::string& file, int line, const std::string& why)
        : std::runtime_error(file + ":" + std::to_string(line) + ": " + why) {}
};

std::string trim(std::string_view s) {
    const std::size_t b = s.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) return {};
    return std::string(s.substr(b, s.find_last_not_of(" \t\r") - b + 1));
}

// `key = value` lines; blank lines and lines starting with # are comments. A key that no option
// has, or one that only the command line takes, is an error naming its line.
std::vector<ConfigLine> read_config(const std::string& file, const po::options_description& desc) {
    std::ifstream in(file);
    if (!in) throw BadOption("config", "cannot read '" + file + "'");
    std::vector<ConfigLine> lines;
    std::string text;
    for (int n = 1; std::getline(in, text); ++n) {
        const std::string line = trim(text);
        if (line.empty() || line[0] == '#') continue;
        const std::size_t eq = line.find('=');
        if (eq == std::string::npos) throw BadLine(file, n, "expected 'key = value', got '" + line + "'");
        ConfigLine l{trim(std::string_view(line).substr(0, eq)), trim(std::string_view(line).substr(eq + 1)), n};
        static const char* const kCommandLineOnly[] = {"config", "help", "version", "print-rules", "print-rules-without-queues"};
        for (const char* k : kCommandLineOnly)
            if (l.key == k) throw BadLine(file, n, l.key + ": only on the command line");
        if (!desc.find_nothrow(l.key, false)) throw BadLine(file, n, "unknown key '" + l.key + "'");
        lines.push_back(std::move(l));
    }
    return lines;
}

po::parsed_options as_parsed(const std::vector<ConfigLine>& lines, const po::options_description& desc) {
    po::parsed_options parsed(&desc);
    for (const ConfigLine& l : lines) {
        po::option o(l.key, {l.value});
        o.original_tokens = {l.key, l.value};
        parsed.options.push_back(std::move(o));
    }
    return parsed;
}

// The line a bad `key`'s message points at: the one whose value it quotes, else the key's first.
const ConfigLine* line_of(const std::vector<ConfigLine>& lines, const std::string& key, const std::string& message) {
    const ConfigLine* first = nullptr;
    for (const ConfigLine& l : lines)
        if (l.key == key) {
            if (!first) first = &l;
            if (!l.value.empty() && message.find("'" + l.value + "'") != std::string::npos) return &l;
        }
    return first;
}

std::map<std::string, std::string> values_of(const po::variables_map& vm) {
    std::map<std::string, std::string> out;
    for (const auto& [key, v] : vm) {
        const boost::any& a = v.value();
        std::string text;
        if (const auto* s = boost::any_cast<std::string>(&a)) text = *s;
        else if (const auto* b = boost::any_cast<bool>(&a)) text = *b ? "true" : "false";
        else if (const auto* list = boost::any_cast<std::vector<std::string>>(&a))
            for (const std::string& item : *list) text += (text.empty() ? "" : ", ") + item;
        out[key] = text;
    }
    return out;
}

} // namespace

bool needs_restart(const std::string& key) {
    static const char* const kKeys[] = {"engine",     "queues",     "queue-out",   "queue-in",  "table",
                                        "mark",       "tun-name",   "rules",       "fail-open", "event-buffer",
                                        "resync-interval", "external-if", "foreground", "pid-file", "config",
                                        "control-socket", "conntrack-events", "takeover-grace"};
    for (const char* k : kKeys)
        if (key == k) return true;
    return false;
}

ParseResult parse_options(int argc, char** argv) {
    const po::options_description desc = describe();
    po::variables_map vm;
    std::vector<ConfigLine> lines;
    std::string file;
    try {
        po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
        if (vm.count("config")) {
            file = vm["config"].as<std::string>();
            lines = read_config(file, desc);
            po::store(as_parsed(lines, desc), vm); // the command line, stored first, wins
        }
        po::notify(vm);
        if (vm.count("help")) {
            std::cout << kUsage << desc << "\n";
            return {std::nullopt, 0, {}};
        }
        if (vm.count("version")) {
            std::cout << "conenatd " CONENAT_VERSION "\n";
            return {std::nullopt, 0, {}};
        }
        Options o = build(vm);
        // validate() names the setting itself. Without --external-ip the addresses come later
        // from the interface: check the rest with a stand-in address.
        core::NatConfig check = o.nat;
        if (check.pool.external_addrs.empty()) check.pool.external_addrs.push_back(0xc0000201); // 192.0.2.1
        if (const std::string_view bad = core::validate(check); !bad.empty()) {
            const std::size_t colon = bad.find(':');
            if (colon == std::string_view::npos) throw std::runtime_error("--" + std::string(bad));
            throw BadOption(std::string(bad.substr(0, colon)), trim(bad.substr(colon + 1)));
        }
        core::NatConfig forwards = o.nat; // their addresses are judged against the WAN's later
        if (o.external_from_if) forwards.pool.external_addrs.clear();
        if (const std::string bad = core::check_forwards(forwards); !bad.empty()) throw BadOption("forward", bad);
        o.values = values_of(vm);
        return {std::move(o), 0, {}};
    } catch (const BadOption& e) {
        // Named by the config file's line when the value came from there (not the command line).
        const std::string message = e.what();
        const std::string key = message.substr(2, message.find(':') - 2);
        const bool from_file = !vm.count(key) || vm[key].defaulted() ||
                               std::none_of(argv + 1, argv + argc, [&](const char* a) {
                                   return std::string_view(a).rfind("--" + key, 0) == 0;
                               });
        if (const ConfigLine* l = from_file ? line_of(lines, key, message) : nullptr)
            return {std::nullopt, 2, file + ":" + std::to_string(l->line) + ": " + message.substr(2)};
        return {std::nullopt, 2, message};
    } catch (const po::error_with_option_name& e) {
        const std::string key = e.get_option_name().substr(e.get_option_name().rfind('-', 1) == 1 ? 2 : 0);
        const ConfigLine* l = line_of(lines, key, e.what());
        if (dynamic_cast<const po::multiple_occurrences*>(&e)) // the line that repeats it
            for (const ConfigLine& c : lines)
                if (c.key == key && &c != l) {
                    l = &c;
                    break;
                }
        if (l)
            return {std::nullopt, 2, file + ":" + std::to_string(l->line) + ": " + key + ": " + e.what()};
        return {std::nullopt, 2, std::string(e.what()) + "\ntry 'conenatd --help'"};
    } catch (const po::error& e) {
        return {std::nullopt, 2, std::string(e.what()) + "\ntry 'conenatd --help'"};
    } catch (const std::exception& e) {
        return {std::nullopt, 2, e.what()};
    }
}

} // namespace conenat::daemon
