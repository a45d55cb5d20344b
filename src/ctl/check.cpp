// `conenatctl check [--stun-server HOST[:PORT]]`: the daemon's local findings, then, with a
// STUN server, what the internet sees of the router's WAN address (RFC 5780 tests run from
// here); a one-line verdict last. Exit 0 when every finding is OK, 1 when a problem was found.
#include "client.hpp"
#include "ctl/check_stun.hpp"

#include "conenat/util/text.hpp"

#include <cstdio>

namespace conenat::ctl {

namespace {

constexpr std::string_view kSourceLine = "stun-source: ";

} // namespace

int run_check(const std::string& socket, const Request& request) {
    // The server's syntax first: a usage error before anything is asked or sent.
    std::optional<StunServerName> server;
    if (!request.stun_server.empty()) {
        auto n = parse_stun_server(request.stun_server);
        if (!n) {
            std::fprintf(stderr, "conenatctl: %s\n", n.error().c_str());
            return kExitUsage;
        }
        server = *n;
    }
    const Answer a = ask_daemon(socket, request);
    if (a.exit != kExitOk) {
        std::fprintf(stderr, "conenatctl: %s\n", a.error.c_str());
        return a.exit;
    }
    std::string body = a.body;
    std::optional<core::Ipv4> source;
    if (const std::size_t at = body.rfind(kSourceLine); at != std::string::npos && (at == 0 || body[at - 1] == '\n')) {
        const std::size_t end = body.find('\n', at);
        source = text::parse_ipv4(std::string_view(body).substr(at + kSourceLine.size(), end == std::string::npos ? std::string::npos : end - at - kSourceLine.size()));
        body.erase(at);
    }
    std::fwrite(body.data(), 1, body.size(), stdout);
    std::size_t problems = 0;
    for (std::size_t at = 0; at < body.size();) {
        if (body.compare(at, 7, "PROBLEM") == 0) ++problems;
        const std::size_t nl = body.find('\n', at);
        at = nl == std::string::npos ? body.size() : nl + 1;
    }
    if (server) {
        std::vector<Finding> found;
        if (!source) {
            found.push_back({Finding::Level::Problem, "the WAN interface has no IPv4 address to run the STUN tests from."});
        } else if (auto to = resolve_stun_server(*server); !to) {
            found.push_back({Finding::Level::Problem, to.error() + ": upstream not checked."});
        } else if (auto d = discover(*source, *to); !d) {
            found.push_back({Finding::Level::Problem, d.error() + ": upstream not checked."});
        } else {
            found = stun_findings(*d, *source);
        }
        for (const Finding& f : found) {
            std::fputs(render(f).c_str(), stdout);
            problems += f.level == Finding::Level::Problem;
        }
    }
    if (problems == 0)
        std::printf("verdict: OK — the NAT conenatd was asked for is in place%s.\n",
                    server ? " and the internet sees this router's WAN address" : "");
    else
        std::printf("verdict: PROBLEM — %zu problem%s found (above, each with what to do).\n", problems, problems == 1 ? "" : "s");
    return problems == 0 ? kExitOk : kExitError;
}

} // namespace conenat::ctl
