#include "conenat/io/log_sink.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

namespace conenat::io {

namespace {

std::string sys_error(const std::string& what) { return what + ": " + std::strerror(errno); }

std::size_t count_lines(std::span<const char> text) { return std::size_t(std::count(text.begin(), text.end(), '\n')); }

} // namespace

Result<LogSink> LogSink::open_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640));
    if (!fd) return Error{sys_error("cannot open " + path)};
    return LogSink(std::move(fd), false, "");
}

Result<LogSink> LogSink::open_syslog(const std::string& socket_path, const std::string& ident) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path)
        return Error{"syslog socket path '" + socket_path + "': empty or too long"};
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return Error{sys_error("syslog socket")};
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
        return Error{sys_error("cannot reach syslog at " + socket_path)};
    // RFC 3164 without a timestamp (syslog stamps it); the line carries its own UTC time.
    std::string prefix = "<" + std::to_string(LOG_DAEMON | LOG_INFO) + ">" + ident + "[" + std::to_string(::getpid()) + "]: ";
    return LogSink(std::move(fd), true, std::move(prefix));
}

std::size_t LogSink::write_lines(std::span<const char> text) const {
    if (text.empty()) return 0;
    if (!m_syslog) {
        // One append; a short write (disk full) loses the rest of the batch, counted by the caller.
        const ssize_t n = ::write(m_fd.get(), text.data(), text.size());
        if (n <= 0) return 0;
        return count_lines(text.first(std::size_t(n)));
    }
    constexpr std::size_t kBatch = 64;
    mmsghdr msgs[kBatch];
    iovec iov[kBatch][2];
    std::size_t sent = 0, pos = 0;
    while (pos < text.size()) {
        std::size_t n = 0;
        while (n < kBatch && pos < text.size()) {
            const char* start = text.data() + pos;
            const void* nl = std::memchr(start, '\n', text.size() - pos);
            const std::size_t len = nl ? std::size_t(static_cast<const char*>(nl) - start) : text.size() - pos;
            iov[n][0] = {const_cast<char*>(m_prefix.data()), m_prefix.size()};
            iov[n][1] = {const_cast<char*>(start), len};
            msgs[n] = {};
            msgs[n].msg_hdr.msg_iov = iov[n];
            msgs[n].msg_hdr.msg_iovlen = 2;
            pos += len + 1;
            ++n;
        }
        const int done = ::sendmmsg(m_fd.get(), msgs, unsigned(n), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (done <= 0) break;
        sent += std::size_t(done);
        if (std::size_t(done) < n) break; // the socket is full: the rest is lost, never waited for
    }
    return sent;
}

} // namespace conenat::io
