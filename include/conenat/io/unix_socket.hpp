// A UNIX stream socket at a path: the daemon's listener (conenatctl's control socket) and the
// client's connection to it. Blocking calls with time-outs, so a slow peer stalls no one long.
#pragma once

#include "conenat/io/fd.hpp"
#include "conenat/util/result.hpp"

#include <string>

namespace conenat::io {

// Listens at `path`, mode 0600 (root-only), removed when it goes. A stale socket file (its
// daemon gone) is replaced; one another process still answers on is an error.
class UnixListener {
public:
    static Result<UnixListener> listen(const std::string& path);
    UnixListener(UnixListener&& o) noexcept : m_fd(std::move(o.m_fd)), m_path(std::move(o.m_path)) { o.m_path.clear(); }
    UnixListener& operator=(UnixListener&&) = delete;
    ~UnixListener(); // removes the socket file
    int fd() const { return m_fd.get(); }
    const std::string& path() const { return m_path; }
    // A waiting client (after poll said readable), with send/receive time-outs of `timeout_ms`
    // and the peer's uid; an empty fd when none was waiting.
    UniqueFd accept(int timeout_ms, unsigned* peer_uid) const;

private:
    UnixListener(UniqueFd fd, std::string path) : m_fd(std::move(fd)), m_path(std::move(path)) {}
    UniqueFd m_fd;
    std::string m_path;
};

// A client's connection, or why not: `error` holds errno (ENOENT, ECONNREFUSED: nobody listens;
// EACCES: not allowed) next to the message.
struct UnixConnection {
    UniqueFd fd;
    int error = 0;
    std::string message;
};
UnixConnection unix_connect(const std::string& path, int timeout_ms);

// Writes all of `data` (false on an error or time-out).
bool send_all(int fd, const std::string& data);
// Reads up to a newline (not included) or `max` bytes; false when the line did not end in time.
bool read_line(int fd, std::size_t max, std::string& line);
// Reads until the peer closes, at most `max` bytes (false beyond, or on an error).
bool read_all(int fd, std::size_t max, std::string& out);

} // namespace conenat::io
