// RAII owners of file descriptors: every fd the daemon opens is held by one of these, so that
// none leaks on an error path and none is closed twice.
#pragma once

#include "conenat/util/result.hpp"

#include <utility>

namespace conenat::io {

// A move-only owner of one file descriptor (-1: none); closes it when it goes.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : m_fd(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        if (this != &o) reset(std::exchange(o.m_fd, -1));
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return m_fd; }
    explicit operator bool() const { return m_fd >= 0; }
    // Closes the fd held, if any, and holds `fd` instead.
    void reset(int fd = -1);

private:
    int m_fd = -1;
};

// A non-blocking eventfd: one thread signals, others poll its fd (readable once signalled).
class EventFd {
public:
    static Result<EventFd> open();
    int fd() const { return m_fd.get(); }
    void signal() const;
    void clear() const; // back to not readable

private:
    explicit EventFd(UniqueFd fd) : m_fd(std::move(fd)) {}
    UniqueFd m_fd;
};

} // namespace conenat::io
