// The threads of a software engine's workers, and the EventFd that stops them. Each worker has
// run(const io::EventFd& stop): its loop, until `stop` is signalled. stop() then start() again
// pauses them (a reconfigure): the workers keep their state, the kernel holds their packets.
#pragma once

#include "conenat/io/fd.hpp"
#include "conenat/util/result.hpp"

#include <optional>
#include <thread>
#include <vector>

namespace conenat::engine {

class WorkerThreads {
public:
    WorkerThreads() = default;
    WorkerThreads(const WorkerThreads&) = delete;
    WorkerThreads& operator=(const WorkerThreads&) = delete;
    ~WorkerThreads() { stop(); }

    // One thread per worker (`workers`: pointers to them, which must outlive stop()).
    template <typename Workers>
    Status start(Workers& workers) {
        if (!m_stop) {
            auto stop = io::EventFd::open();
            if (!stop)
                return Error{stop.error()};
            m_stop = std::move(*stop);
        }
        for (auto& w : workers)
            m_threads.emplace_back([&w, &stop = *m_stop] { w->run(stop); });
        return {};
    }
    // Tells every worker to stop and waits for them; start() may follow. Idempotent.
    void stop() {
        if (m_stop)
            m_stop->signal();
        for (auto& t : m_threads)
            if (t.joinable())
                t.join();
        m_threads.clear();
        if (m_stop)
            m_stop->clear(); // unsignalled for the next start()
    }
    bool running() const { return !m_threads.empty(); }

private:
    std::optional<io::EventFd> m_stop;
    std::vector<std::thread> m_threads;
};

} // namespace conenat::engine
