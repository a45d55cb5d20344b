// The control socket (conenatctl): a root-only UNIX stream socket served by its own thread.
// A client sends one request line (ctl::Request), the daemon answers `ok` or `error: <why>`,
// then the body, and closes. Commands live in one table (control_commands.cpp): a new one is
// an entry there (and in ctl::command_specs()) plus its handler file.
#pragma once

#include "conenat/core/types.hpp"
#include "conenat/daemon/reload.hpp"
#include "conenat/engine/engine.hpp"
#include "conenat/io/fd.hpp"
#include "conenat/io/unix_socket.hpp"
#include "conenat/util/ctl_request.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <string>
#include <thread>
#include <vector>

namespace conenat::daemon {

// What reload() answers: "reloaded: KEYS" or "configuration unchanged", or why it was refused.
using ReloadOutcome = Result<std::string>;

// A reload asked for on the control socket, run by the main thread (the one SIGHUP wakes).
class ReloadDesk {
public:
    // The control thread: wakes the main thread and waits for its outcome (or the time-out).
    std::optional<ReloadOutcome> ask(std::chrono::milliseconds timeout);
    // The main thread, after each reload: the outcome to whoever asked.
    void answer(const ReloadOutcome& outcome);
    // Whether a control client waits for the next reload (for the log line).
    bool asked() const;
    void set_main_thread(pthread_t t) { m_main = t; }

private:
    mutable std::mutex m_mutex;
    std::condition_variable m_done;
    pthread_t m_main{};
    bool m_waiting = false;
    std::optional<ReloadOutcome> m_outcome;
};

// What a handler may use. The engine answers its own queries thread-safely; nothing here is
// the main thread's Options (which a reload replaces).
struct ControlContext {
    engine::Engine& engine;
    engine::EngineConfig start_config; // as started: the engine kind, WAN interface, ...
    core::TimeMs started_ms = 0;       // engine::now_ms() at start (uptime)
    ReloadDesk& reloads;
};

struct ControlReply {
    std::string error; // not empty: the answer is `error: <error>`
    std::string body;  // after `ok`
};
inline ControlReply control_error(std::string why) { return {std::move(why), {}}; }

using ControlHandler = ControlReply (*)(const ctl::Request& request, ControlContext& context);
struct ControlCommand {
    const char* name; // as in ctl::command_specs()
    ControlHandler handler;
};
// The daemon's commands, one entry each (control_commands.cpp).
const std::vector<ControlCommand>& control_commands();
// The answer to one request line (parsed and checked here, dispatched through the table).
std::string answer_request(const std::string& line, ControlContext& context);

// The listener (opened before the daemon detaches, so errors reach the caller) and its thread.
class ControlServer {
public:
    static Result<ControlServer> open(const std::string& path);
    ControlServer(ControlServer&&) noexcept = default;
    ControlServer& operator=(ControlServer&&) = delete;
    ~ControlServer() { stop(); }
    // Serves requests, one client at a time, each bounded by time-outs.
    Status start(ControlContext context);
    void stop();

private:
    ControlServer(io::UnixListener l, io::EventFd stop) : m_listener(std::move(l)), m_stop(std::move(stop)) {}
    void serve();
    io::UnixListener m_listener;
    io::EventFd m_stop;
    std::optional<ControlContext> m_context;
    std::thread m_thread;
};

} // namespace conenat::daemon
