#include "client.hpp"

#include "conenat/io/unix_socket.hpp"

#include <cerrno>
#include <cstdio>

namespace conenat::ctl {

namespace {
constexpr int kTimeoutMs = 35000;               // longer than the daemon's own reload wait
constexpr std::size_t kMaxAnswer = 512u << 20;  // a listing of kViewLimit rows as JSON fits
} // namespace

Answer ask_daemon(const std::string& socket, const Request& request) {
    io::UnixConnection c = io::unix_connect(socket, kTimeoutMs);
    if (!c.fd) {
        if (c.error == ENOENT || c.error == ECONNREFUSED)
            return {kExitNotRunning, {}, "conenatd is not running: " +
                                             std::string(c.error == ENOENT ? "no control socket at " : "nobody answers on ") +
                                             socket + " (--socket PATH names another one)"};
        if (c.error == EACCES || c.error == EPERM)
            return {kExitDenied, {}, "permission denied on the control socket " + socket + " (it is root's: run as root)"};
        return {kExitNotRunning, {}, "cannot reach conenatd: " + c.message};
    }
    if (!io::send_all(c.fd.get(), request.line() + "\n"))
        return {kExitNotRunning, {}, "cannot send the request to " + socket};
    std::string answer;
    if (!io::read_all(c.fd.get(), kMaxAnswer, answer)) return {kExitError, {}, "the answer from " + socket + " was cut short"};
    const std::size_t nl = answer.find('\n');
    const std::string first = answer.substr(0, nl);
    if (first == "ok") return {kExitOk, nl == std::string::npos ? "" : answer.substr(nl + 1), {}};
    if (first.rfind("error: ", 0) == 0) {
        const std::string why = first.substr(7);
        return {why.rfind("permission denied", 0) == 0 ? kExitDenied : kExitError, {}, why};
    }
    return {kExitError, {}, "not an answer of conenatd on " + socket + ": '" + first.substr(0, 80) + "'"};
}

int run_remote(const std::string& socket, const Request& request) {
    const Answer a = ask_daemon(socket, request);
    if (a.exit != kExitOk) {
        std::fprintf(stderr, "conenatctl: %s\n", a.error.c_str());
        return a.exit;
    }
    std::fwrite(a.body.data(), 1, a.body.size(), stdout);
    return kExitOk;
}

} // namespace conenat::ctl
