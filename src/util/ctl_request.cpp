// conenatctl's request words, checked the same way by the client and by the daemon.
#include "conenat/util/ctl_request.hpp"

#include "conenat/util/text.hpp"

namespace conenat::ctl {

const std::vector<CommandSpec>& command_specs() {
    static const std::vector<CommandSpec> specs = {
        {"status", kOptJson, "engine, NAT type per protocol, addresses, pool, uptime, counts, limits"},
        {"mappings", kOptJson | kOptFilters, "the live mappings [--proto P] [--internal A[:P]] [--external A[:P]]"},
        {"sessions", kOptJson | kOptFilters, "the live sessions (filter permits, TCP connections), same filters"},
        {"stats", kOptJson | kOptPrometheus, "the counters [--prometheus]"},
        {"forwards", kOptJson, "the static port forwards"},
        {"reload", kOptJson, "read the configuration again, as SIGHUP does: applied or refused, and why"},
        {"check", kOptStunServer, "is the NAT really in place? [--stun-server HOST[:PORT]]: and what the internet sees"},
    };
    return specs;
}

std::optional<core::Proto> parse_proto(std::string_view s) {
    if (s == "udp") return core::Proto::Udp;
    if (s == "tcp") return core::Proto::Tcp;
    if (s == "icmp") return core::Proto::Icmp;
    return std::nullopt;
}

std::string_view proto_name(core::Proto p) {
    return p == core::Proto::Udp ? "udp" : p == core::Proto::Tcp ? "tcp" : p == core::Proto::Icmp ? "icmp" : "?";
}

std::optional<core::Endpoint> parse_endpoint_filter(std::string_view s) {
    const std::size_t colon = s.find(':');
    const auto addr = text::parse_ipv4(s.substr(0, colon));
    if (!addr) return std::nullopt;
    if (colon == std::string_view::npos) return core::Endpoint{*addr, 0};
    const auto port = text::parse_uint(s.substr(colon + 1), 1, 65535);
    if (!port || s.substr(colon + 1).find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
    return core::Endpoint{*addr, std::uint16_t(*port)};
}

std::vector<std::string> split_words(std::string_view line) {
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        std::size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
        if (j > i) words.emplace_back(line.substr(i, j - i));
        i = j;
    }
    return words;
}

namespace {

bool printable(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) return false;
    return true;
}

std::string endpoint_text(const core::Endpoint& e) {
    return e.port ? text::format_endpoint(e) : text::format_ipv4(e.addr);
}

} // namespace

Result<Request> parse_request(const std::vector<std::string>& words) {
    if (words.empty()) return Error{"no command given (try: status, mappings, sessions, stats, forwards, reload, check)"};
    for (const std::string& w : words)
        if (!printable(w) || w.size() > 256) return Error{"not a word of a request: '" + w.substr(0, 64) + "'"};
    Request r;
    r.command = words[0];
    const CommandSpec* spec = nullptr;
    for (const CommandSpec& s : command_specs())
        if (r.command == s.name) spec = &s;
    if (!spec) return Error{"unknown command '" + r.command + "'"};
    bool proto = false, internal = false, external = false;
    for (std::size_t i = 1; i < words.size(); ++i) {
        const std::string& w = words[i];
        auto value = [&]() -> Result<std::string> {
            if (i + 1 >= words.size()) return Error{w + ": needs a value"};
            return words[++i];
        };
        auto allowed = [&](unsigned bit) { return (spec->options & bit) != 0; };
        if (w == "--json" && allowed(kOptJson)) {
            r.json = true;
        } else if (w == "--prometheus" && allowed(kOptPrometheus)) {
            r.prometheus = true;
        } else if (w == "--proto" && allowed(kOptFilters) && !proto) {
            auto v = value();
            if (!v) return Error{v.error()};
            const auto p = parse_proto(*v);
            if (!p) return Error{"--proto: expected udp, tcp or icmp, got '" + *v + "'"};
            r.filter.proto = *p;
            proto = true;
        } else if ((w == "--internal" && !internal) || (w == "--external" && !external)) {
            if (!allowed(kOptFilters)) return Error{r.command + " does not take " + w};
            auto v = value();
            if (!v) return Error{v.error()};
            const auto e = parse_endpoint_filter(*v);
            if (!e) return Error{w + ": expected an IPv4 address, optionally with :PORT (1-65535), got '" + *v + "'"};
            (w == "--internal" ? r.filter.internal : r.filter.external) = *e;
            (w == "--internal" ? internal : external) = true;
        } else if (w == "--stun-server" && allowed(kOptStunServer) && r.stun_server.empty()) {
            auto v = value();
            if (!v) return Error{v.error()};
            r.stun_server = *v;
        } else if (w == "--proto" || w == "--internal" || w == "--external" || w == "--stun-server") {
            return Error{allowed(w == "--stun-server" ? kOptStunServer : kOptFilters)
                             ? w + ": given twice"
                             : r.command + " does not take " + w};
        } else {
            return Error{w.rfind("--", 0) == 0 ? r.command + " does not take " + w : "unexpected word '" + w + "'"};
        }
    }
    if (r.json && r.prometheus) return Error{"--json and --prometheus: choose one"};
    return r;
}

std::string Request::line() const {
    std::string s = command;
    if (filter.proto) s += " --proto " + std::string(proto_name(*filter.proto));
    if (filter.internal) s += " --internal " + endpoint_text(*filter.internal);
    if (filter.external) s += " --external " + endpoint_text(*filter.external);
    if (!stun_server.empty()) s += " --stun-server " + stun_server;
    if (prometheus) s += " --prometheus";
    if (json) s += " --json";
    return s;
}

} // namespace conenat::ctl
