// Where the operators' mapping log goes: a file opened for appending, or a syslog datagram
// socket (/dev/log: LOG_DAEMON, our own ident), each line one message. Lines are written in
// batches: one write() for a file, one sendmmsg() per up to 64 syslog messages. Thread-safe
// (the kernel orders the appends); never blocks (a full syslog socket: the lines are lost).
#pragma once

#include "conenat/io/fd.hpp"
#include "conenat/util/result.hpp"

#include <cstddef>
#include <span>
#include <string>

namespace conenat::io {

class LogSink {
public:
    // `path` opened to append (created 0640 when absent).
    static Result<LogSink> open_file(const std::string& path);
    // The syslog socket at `socket_path` (a datagram socket), messages tagged `ident`.
    static Result<LogSink> open_syslog(const std::string& socket_path, const std::string& ident);

    // Writes `text` (whole lines, each ending in '\n'); returns how many lines went out.
    std::size_t write_lines(std::span<const char> text) const;

private:
    LogSink(UniqueFd fd, bool syslog, std::string prefix)
        : m_fd(std::move(fd)), m_syslog(syslog), m_prefix(std::move(prefix)) {}
    UniqueFd m_fd;
    bool m_syslog = false;
    std::string m_prefix; // syslog: "<30>ident[pid]: "
};

} // namespace conenat::io
