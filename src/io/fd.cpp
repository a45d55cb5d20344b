#include "conenat/io/fd.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <sys/eventfd.h>
#include <unistd.h>

namespace conenat::io {

void UniqueFd::reset(int fd) {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = fd;
}

Result<EventFd> EventFd::open() {
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) return Error{std::string("eventfd: ") + std::strerror(errno)};
    return EventFd(UniqueFd(fd));
}

void EventFd::signal() const {
    const std::uint64_t one = 1;
    (void)!::write(m_fd.get(), &one, sizeof one); // EAGAIN only at a count of 2^64-2: still readable
}

void EventFd::clear() const {
    std::uint64_t count = 0;
    (void)!::read(m_fd.get(), &count, sizeof count);
}

} // namespace conenat::io
