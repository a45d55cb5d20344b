#include "conenat/daemon/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

namespace conenat::daemon {

namespace {
int g_ready_fd = -1; // write end of the pipe the waiting parent reads

std::string errno_text() { return std::strerror(errno); }
} // namespace

Result<PidFile> PidFile::acquire(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Error{"--pid-file: cannot open '" + path + "': " + errno_text()};
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = {};
        const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
        ::close(fd);
        const std::string pid = n > 0 ? std::string(buf, std::strcspn(buf, "\n")) : "?";
        return Error{"already running (pid " + pid + ", pid file '" + path + "' is locked)"};
    }
    return PidFile(fd, path);
}

PidFile::~PidFile() {
    if (m_fd < 0) return;
    ::unlink(m_path.c_str());
    ::close(m_fd);
}

Status PidFile::write_pid() {
    const std::string text = std::to_string(::getpid()) + "\n";
    if (::ftruncate(m_fd, 0) != 0 || ::pwrite(m_fd, text.data(), text.size(), 0) != ssize_t(text.size()))
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
