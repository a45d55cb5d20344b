// Process plumbing of a daemon: the locked pid file, detaching, signals.
#pragma once

#include "conenat/util/result.hpp"

#include <string>

namespace conenat::daemon {

// An exclusively locked pid file; a second instance cannot take it and is told who has it.
class PidFile {
public:
    static Result<PidFile> acquire(const std::string& path);
    PidFile(PidFile&& o) noexcept : m_fd(std::exchange(o.m_fd, -1)), m_path(std::move(o.m_path)) {}
    PidFile& operator=(PidFile&&) = delete;
    ~PidFile(); // removes the file
    Status write_pid();

private:
    PidFile(int fd, std::string path) : m_fd(fd), m_path(std::move(path)) {}
    int m_fd = -1;
    std::string m_path;
};

// Detaches into the background. Returns in the daemon process only; the parent waits until
// the daemon calls ready() (exit 0) or exits (its exit status), so that start-up errors reach
// the caller and systemd's Type=forking sees a daemon that is really up.
Status daemonize();
void notify_ready(int status);

// Blocks SIGTERM, SIGINT, SIGHUP in the calling thread (and in threads it starts later).
void block_signals();
// Waits up to `ms` for one of them; returns the signal number, or 0 on time-out.
int wait_signal(int ms);

} // namespace conenat::daemon
