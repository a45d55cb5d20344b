// UNIX stream sockets at a path (control socket): listen, accept, connect, line I/O.
#include "conenat/io/unix_socket.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

namespace conenat::io {

namespace {

std::string errno_text(int e) { return std::strerror(e); }

bool address_of(const std::string& path, sockaddr_un& addr) {
    std::memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path) return false;
    std::memcpy(addr.sun_path, path.data(), path.size());
    return true;
}

void set_timeouts(int fd, int timeout_ms) {
    const timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

} // namespace

UnixConnection unix_connect(const std::string& path, int timeout_ms) {
    UnixConnection c;
    sockaddr_un addr;
    if (!address_of(path, addr)) {
        c.error = ENAMETOOLONG;
        c.message = "socket path '" + path + "' is empty or too long";
        return c;
    }
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        c.error = errno;
        c.message = "socket: " + errno_text(errno);
        return c;
    }
    set_timeouts(fd.get(), timeout_ms);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        c.error = errno;
        c.message = path + ": " + errno_text(errno);
        return c;
    }
    c.fd = std::move(fd);
    return c;
}

Result<UnixListener> UnixListener::listen(const std::string& path) {
    sockaddr_un addr;
    if (!address_of(path, addr)) return Error{"'" + path + "': empty or too long for a socket path"};
    // Its directory (/run/conenatd by default; systemd's RuntimeDirectory makes it too): one
    // level, 0755, when missing.
    if (const auto slash = path.rfind('/'); slash != std::string::npos && slash > 0)
        if (::mkdir(path.substr(0, slash).c_str(), 0755) != 0 && errno != EEXIST)
            return Error{"'" + path + "': cannot create its directory: " + errno_text(errno)};
    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) return Error{"'" + path + "' exists and is not a socket"};
        UnixConnection probe = unix_connect(path, 1000);
        if (probe.fd) return Error{"'" + path + "': another conenatd answers on it"};
        if (probe.error != ECONNREFUSED) return Error{"'" + path + "': " + probe.message};
        if (::unlink(path.c_str()) != 0 && errno != ENOENT)
            return Error{"'" + path + "': cannot remove the stale socket: " + errno_text(errno)};
    }
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return Error{"socket: " + errno_text(errno)};
    // Bound under umask 0177: the file is 0600 from the start, never briefly open to others.
    const mode_t old_mask = ::umask(0177);
    const int rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    const int err = errno;
    ::umask(old_mask);
    if (rc != 0) return Error{"'" + path + "': " + errno_text(err)};
    UnixListener l(std::move(fd), path);
    if (::chmod(path.c_str(), 0600) != 0 || ::listen(l.m_fd.get(), 16) != 0)
        return Error{"'" + path + "': " + errno_text(errno)};
    return l;
}

UnixListener::~UnixListener() {
    if (!m_path.empty() && m_fd) (void)::unlink(m_path.c_str());
}

UniqueFd UnixListener::accept(int timeout_ms, unsigned* peer_uid) const {
    UniqueFd c(::accept4(m_fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) return c;
    set_timeouts(c.get(), timeout_ms);
    ucred cred{};
    socklen_t len = sizeof cred;
    *peer_uid = ::getsockopt(c.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.uid : ~0u;
    return c;
}

bool send_all(int fd, const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += std::size_t(n);
    }
    return true;
}

bool read_line(int fd, std::size_t max, std::string& line) {
    line.clear();
    char c;
    while (line.size() < max) {
        const ssize_t n = ::recv(fd, &c, 1, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        if (c == '\n') return true;
        line.push_back(c);
    }
    return false;
}

bool read_all(int fd, std::size_t max, std::string& out) {
    char buf[16384];
    for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        if (n == 0) return true;
        if (out.size() + std::size_t(n) > max) return false;
        out.append(buf, std::size_t(n));
    }
}

} // namespace conenat::io
