// conenatctl: asks the running conenatd (its control socket) what it does, and tells it to
// reload. The request is checked here before connecting; the daemon renders the answer.
#include "client.hpp"

#include "conenat/util/ctl_request.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#ifndef CONENAT_VERSION
#error "CONENAT_VERSION: the Makefile passes the one VERSION"
#endif

using namespace conenat;

namespace {

void usage(FILE* out) {
    std::fprintf(out, "usage: conenatctl [--socket PATH] COMMAND [--json] [options]\n"
                      "Asks the running conenatd (default socket /run/conenatd/conenatd.sock; root only).\n\ncommands:\n");
    for (const ctl::CommandSpec& c : ctl::command_specs()) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
    std::fprintf(out, "\nexit status: 0 ok, 1 the daemon answered an error, 2 usage error, 3 conenatd not running,\n"
                      "4 permission denied\n");
}

} // namespace

int main(int argc, char** argv) {
    std::string socket = "/run/conenatd/conenatd.sock";
    std::vector<std::string> words;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            usage(stdout);
            return ctl::kExitOk;
        }
        if (a == "--version") {
            std::puts("conenatctl " CONENAT_VERSION);
            return ctl::kExitOk;
        }
        if (a == "--socket" || a.rfind("--socket=", 0) == 0) {
            if (a == "--socket" && i + 1 >= argc) {
                std::fprintf(stderr, "conenatctl: --socket: needs a path\n");
                return ctl::kExitUsage;
            }
            socket = a == "--socket" ? argv[++i] : a.substr(9);
            if (socket.empty()) {
                std::fprintf(stderr, "conenatctl: --socket: needs a path\n");
                return ctl::kExitUsage;
            }
            continue;
        }
        words.push_back(a);
    }
    // The command is the first word that is neither an option nor an option's value
    // (conenatctl --json status): it goes first.
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (words[i].rfind("--", 0) == 0) {
            for (const char* v : {"--proto", "--internal", "--external", "--stun-server"})
                if (words[i] == v) ++i;
            continue;
        }
        std::rotate(words.begin(), words.begin() + long(i), words.begin() + long(i) + 1);
        break;
    }
    auto request = ctl::parse_request(words);
    if (!request) {
        std::fprintf(stderr, "conenatctl: %s\ntry 'conenatctl --help'\n", request.error().c_str());
        return ctl::kExitUsage;
    }
    for (const ctl::LocalCommand& c : ctl::local_commands())
        if (request->command == c.name) return c.run(socket, *request);
    return ctl::run_remote(socket, *request);
}
