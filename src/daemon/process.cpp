#include "conenat/daemon/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <algorithm>
#include <cstddef>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace conenat::daemon {

namespace {
int g_ready_fd = -1; // write end of the pipe the waiting parent reads

std::string errno_text() { return std::strerror(errno); }
} // namespace

Result<PidFile> PidFile::acquire(const std::string& path) {
    // Its directory (/run/conenatd by default; systemd's RuntimeDirectory makes it too): one
    // level, 0755, when missing.
    if (const auto slash = path.rfind('/'); slash != std::string::npos && slash > 0)
        if (::mkdir(path.substr(0, slash).c_str(), 0755) != 0 && errno != EEXIST)
            return Error{"--pid-file: cannot create the directory of '" + path + "': " + errno_text()};
    for (;;) {
        io::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
        if (!fd) return Error{"--pid-file: cannot open '" + path + "': " + errno_text()};
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
            char buf[32] = {};
            const ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
            const std::string pid = n > 0 ? std::string(buf, std::strcspn(buf, "\n")) : "?";
            return Error{"already running (pid " + pid + ", pid file '" + path + "' is locked)"};
        }
        // The lock is on what we opened. If its owner unlinked it between our open and our
        // flock, the path now names another file (or none), which a third start may lock too:
        // only a lock on the file the path still names counts.
        struct stat held {}, named {};
        if (::fstat(fd.get(), &held) == 0 && ::stat(path.c_str(), &named) == 0 && held.st_dev == named.st_dev &&
            held.st_ino == named.st_ino)
            return PidFile(std::move(fd), path);
    }
}

// Unlinked while still locked: a start that opens the path now creates a new file, and a start
// that opened the old one finds, after its flock, that the path names another file (acquire).
PidFile::~PidFile() {
    if (m_fd) ::unlink(m_path.c_str()); // then the member closes the fd, releasing the lock
}

Result<InstanceLock> InstanceLock::acquire(const std::string& table) {
    io::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return Error{"instance lock: socket: " + errno_text()};
    // An abstract name belongs to the network namespace (unix(7)) and goes with the process,
    // kill -9 included: nothing stale to clean up, and the kernel decides who was first.
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string name = "conenatd/table/" + table;
    std::memcpy(addr.sun_path + 1, name.data(), std::min(name.size(), sizeof addr.sun_path - 2));
    const socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + std::min(name.size(), sizeof addr.sun_path - 2));
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) == 0 && ::listen(fd.get(), SOMAXCONN) == 0)
        return InstanceLock(std::move(fd));
    const int err = errno;
    fd.reset();
    if (err != EADDRINUSE) return Error{std::string("instance lock: ") + std::strerror(err)};
    // Who: the listener's credentials (SO_PEERCRED of a connection to it). Non-blocking: the
    // owner never accepts, so a full backlog must not hang us.
    std::string who = "?";
    if (const io::UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)); probe) {
        ucred cred{};
        socklen_t cl = sizeof cred;
        if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), len) == 0 &&
            ::getsockopt(probe.get(), SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 && cred.pid > 0)
            who = std::to_string(cred.pid);
    }
    return Error{"another conenatd (pid " + who + ") runs in this network namespace with table ip " + table +
                 ": it owns the table and the queues; nothing was installed or changed"};
}

// listen() again: SO_PEERCRED reports the credentials of the last listen() (unix(7)).
void InstanceLock::owned_by_this_process() { (void)::listen(m_fd.get(), SOMAXCONN); }

Status PidFile::write_pid() {
    const std::string text = std::to_string(::getpid()) + "\n";
    if (::ftruncate(m_fd.get(), 0) != 0 || ::pwrite(m_fd.get(), text.data(), text.size(), 0) != ssize_t(text.size()))
        return Error{"--pid-file: cannot write '" + m_path + "': " + errno_text()};
    return {};
}

Status daemonize() {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Error{"pipe: " + errno_text()};
    const pid_t child = ::fork();
    if (child < 0) return Error{"fork: " + errno_text()};
    if (child > 0) { // the parent: wait for the daemon's word
        ::close(pipe_fds[1]);
        unsigned char status = 1;
        if (::read(pipe_fds[0], &status, 1) != 1) {
            int ws = 0;
            ::waitpid(child, &ws, 0);
            std::_Exit(WIFEXITED(ws) ? WEXITSTATUS(ws) : 1);
        }
        std::_Exit(status);
    }
    ::close(pipe_fds[0]);
    g_ready_fd = pipe_fds[1];
    if (::setsid() < 0) return Error{"setsid: " + errno_text()};
    if (::chdir("/") != 0) return Error{"chdir: " + errno_text()};
    const int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
        if (null > 2) ::close(null);
    }
    return {};
}

void notify_ready(int status) {
    if (g_ready_fd < 0) return;
    const unsigned char s = (unsigned char)status;
    (void)!::write(g_ready_fd, &s, 1);
    ::close(g_ready_fd);
    g_ready_fd = -1;
}

namespace {
sigset_t handled() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1); // their default action would end the daemon without cleanup
    sigaddset(&set, SIGUSR2);
    return set;
}
} // namespace

void block_signals() {
    const sigset_t set = handled();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

int wait_signal(int ms) {
    const sigset_t set = handled();
    const timespec ts{ms / 1000, long(ms % 1000) * 1'000'000};
    const int sig = ::sigtimedwait(&set, nullptr, &ts);
    return sig > 0 ? sig : 0;
}

} // namespace conenat::daemon
