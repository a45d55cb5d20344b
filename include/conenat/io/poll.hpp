// Waits until one of a few fds is readable (poll(2)): what a worker thread blocks on between
// rounds — its port's fds and the EventFd that stops it.
#pragma once

#include "conenat/io/fd.hpp"
#include "conenat/util/result.hpp"

#include <poll.h>

#include <array>
#include <cstddef>

namespace conenat::io {

class Poller {
public:
    static constexpr std::size_t kMax = 8;

    // Watches `fd` (at most kMax); returns its index for readable().
    std::size_t watch(int fd);
    std::size_t watch(const EventFd& e) { return watch(e.fd()); }
    // Waits up to `timeout_ms` for any watched fd; an interrupted wait is no error.
    Status wait(int timeout_ms);
    // Readable after the last wait().
    bool readable(std::size_t index) const { return index < m_n && (m_fds[index].revents & POLLIN); }

private:
    std::array<pollfd, kMax> m_fds{};
    std::size_t m_n = 0;
};

} // namespace conenat::io
