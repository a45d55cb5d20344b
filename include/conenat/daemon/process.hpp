// Process plumbing of a daemon: the locked pid file, detaching, signals.
#pragma once

#include "conenat/io/fd.hpp"
#include "conenat/util/result.hpp"

#include <string>
#include <utility>

namespace conenat::daemon {

// An exclusively locked pid file; a second instance cannot take it and is told who has it.
class PidFile {
public:
    static Result<PidFile> acquire(const std::string& path);
    PidFile(PidFile&&) noexcept = default;
    PidFile& operator=(PidFile&&) = delete;
    ~PidFile(); // removes the file
    Status write_pid();

private:
    PidFile(io::UniqueFd fd, std::string path) : m_fd(std::move(fd)), m_path(std::move(path)) {}
    io::UniqueFd m_fd;
    std::string m_path;
};

// One running instance per nftables table and network namespace, whatever its pid file: an
// abstract unix socket named after the table, held for the process's life. Taken before the
// engine touches the kernel, so a second instance changes nothing of the first one's state.
class InstanceLock {
public:
    // Fails, naming the owner's pid, when another process holds it.
    static Result<InstanceLock> acquire(const std::string& table);
    InstanceLock(InstanceLock&&) noexcept = default;
    InstanceLock& operator=(InstanceLock&&) = delete;
    // After daemonize(): a second instance is told this process's pid, not the parent's.
    void owned_by_this_process();

private:
    explicit InstanceLock(io::UniqueFd fd) : m_fd(std::move(fd)) {}
    io::UniqueFd m_fd;
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
