// The threads of a software engine's workers, and the eventfd that stops them. Each worker has
// run(int stop_fd): its loop, until stop_fd is readable.
#pragma once

#include "conenat/util/result.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <thread>
#include <vector>

namespace conenat::engine {

class WorkerThreads {
public:
    WorkerThreads() = default;
    WorkerThreads(const WorkerThreads&) = delete;
    WorkerThreads& operator=(const WorkerThreads&) = delete;
    ~WorkerThreads() {
        stop();
        if (m_stop_fd >= 0)
            ::close(m_stop_fd);
    }

    // One thread per worker (`workers`: pointers to them, which must outlive stop()).
    template <typename Workers>
    Status start(Workers& workers) {
        if (m_stop_fd < 0)
            m_stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (m_stop_fd < 0)
            return Error{"eventfd failed"};
        for (auto& w : workers)
            m_threads.emplace_back([&w, fd = m_stop_fd] { w->run(fd); });
        return {};
    }
    // Tells every worker to stop and waits for them. Idempotent.
    void stop() {
        if (m_stop_fd >= 0) {
            const std::uint64_t one = 1;
            (void)!::write(m_stop_fd, &one, sizeof one);
        }
        for (auto& t : m_threads)
            if (t.joinable())
                t.join();
        m_threads.clear();
    }

private:
    int m_stop_fd = -1;
    std::vector<std::thread> m_threads;
};

} // namespace conenat::engine
