// The control socket's thread: accept, read one request line, answer, close. One client at a
// time, each bounded by time-outs: a slow or silent client delays other clients by at most
// kClientTimeoutMs and never the NAT (the engines copy their tables on their own threads).
#include "conenat/daemon/control.hpp"

#include "conenat/io/poll.hpp"
#include "conenat/util/log.hpp"

#include <csignal>
#include <unistd.h>

namespace conenat::daemon {

namespace {
constexpr int kClientTimeoutMs = 5000;
} // namespace

std::optional<ReloadOutcome> ReloadDesk::ask(std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_mutex);
    m_waiting = true;
    m_outcome.reset();
    pthread_kill(m_main, SIGHUP); // the main thread waits for it (sigtimedwait) and reloads
    const bool done = m_done.wait_for(lock, timeout, [this] { return m_outcome.has_value(); });
    m_waiting = false;
    if (!done) return std::nullopt;
    return std::exchange(m_outcome, std::nullopt);
}

void ReloadDesk::answer(const ReloadOutcome& outcome) {
    {
        std::lock_guard lock(m_mutex);
        if (!m_waiting) return;
        m_outcome = outcome;
    }
    m_done.notify_all();
}

bool ReloadDesk::asked() const {
    std::lock_guard lock(m_mutex);
    return m_waiting;
}

std::string answer_request(const std::string& line, ControlContext& context) {
    auto request = ctl::parse_request(ctl::split_words(line));
    ControlReply reply;
    if (!request) {
        reply = control_error(request.error());
    } else {
        reply = control_error("unknown command '" + request->command + "'");
        for (const ControlCommand& c : control_commands())
            if (request->command == c.name) reply = c.handler(*request, context);
    }
    if (!reply.error.empty()) return "error: " + reply.error + "\n";
    return "ok\n" + reply.body;
}

Result<ControlServer> ControlServer::open(const std::string& path) {
    auto listener = io::UnixListener::listen(path);
    if (!listener) return Error{"--control-socket: " + listener.error()};
    auto stop = io::EventFd::open();
    if (!stop) return Error{stop.error()};
    return ControlServer(std::move(*listener), std::move(*stop));
}

Status ControlServer::start(ControlContext context) {
    m_context.emplace(std::move(context));
    m_context->reloads.set_main_thread(pthread_self());
    m_thread = std::thread([this] { serve(); });
    return {};
}

void ControlServer::stop() {
    if (!m_thread.joinable()) return;
    m_stop.signal();
    m_thread.join();
}

void ControlServer::serve() {
    io::Poller poller;
    const std::size_t listen_index = poller.watch(m_listener.fd());
    const std::size_t stop_index = poller.watch(m_stop);
    for (;;) {
        if (!poller.wait(1000)) continue;
        if (poller.readable(stop_index)) return;
        if (!poller.readable(listen_index)) continue;
        unsigned uid = ~0u;
        io::UniqueFd client = m_listener.accept(kClientTimeoutMs, &uid);
        if (!client) continue;
        // The file is 0600 already; a process that got a descriptor to it otherwise is refused too.
        if (uid != 0 && uid != ::geteuid()) {
            (void)io::send_all(client.get(), "error: permission denied (the control socket is root's)\n");
            continue;
        }
        std::string line;
        if (!io::read_line(client.get(), ctl::kMaxRequestBytes, line)) {
            (void)io::send_all(client.get(), line.size() >= ctl::kMaxRequestBytes
                                                 ? "error: request longer than " + std::to_string(ctl::kMaxRequestBytes) + " bytes\n"
                                                 : std::string("error: no request line (one line, ending in a newline)\n"));
            continue;
        }
        LOG_DEBUG("control: %s", line.c_str());
        (void)io::send_all(client.get(), answer_request(line, *m_context));
    }
}

} // namespace conenat::daemon
