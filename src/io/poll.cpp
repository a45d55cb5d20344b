#include "conenat/io/poll.hpp"

#include <cerrno>
#include <cstring>
#include <string>

namespace conenat::io {

std::size_t Poller::watch(int fd) {
    if (m_n == kMax)
        return kMax; // never readable
    m_fds[m_n] = {fd, POLLIN, 0};
    return m_n++;
}

Status Poller::wait(int timeout_ms) {
    if (::poll(m_fds.data(), nfds_t(m_n), timeout_ms) >= 0)
        return {};
    const int err = errno;
    for (std::size_t i = 0; i < m_n; ++i) // nothing is readable after a failed wait
        m_fds[i].revents = 0;
    if (err == EINTR)
        return {};
    return Error{std::string("poll: ") + std::strerror(err)};
}

} // namespace conenat::io
