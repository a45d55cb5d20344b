// conenatctl's view of one software worker's table: the caller posts a request, the worker's
// own thread copies the rows between two batches (one relaxed load per round when nobody asks;
// no lock on the packet path), the caller waits for it with a time-out.
#pragma once

#include "conenat/core/nat/mapping_table.hpp"
#include "conenat/engine/view.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace conenat::engine {

// The rows of `table` that `request` asks for, added to `out` (its counts too).
inline void copy_view(const core::MappingTable& table, const ViewRequest& request, core::TimeMs now, TableView& out) {
    out.tables += 1;
    out.mapping_count += table.mapping_count();
    out.session_count += table.session_count();
    if (request.mappings) out.truncated |= !table.view_mappings(now, request.filter, request.limit, out.mappings);
    if (request.sessions) out.truncated |= !table.view_sessions(now, request.filter, request.limit, out.sessions);
}

class ViewSlot {
public:
    // The asking thread (one at a time): the worker fills `out` at its next round.
    void post(const ViewRequest& request, TableView& out) {
        std::lock_guard lock(m_mutex);
        m_request = &request;
        m_out = &out;
        m_served = false;
        m_pending.store(true, std::memory_order_release);
    }
    // The asking thread: true once served; false at `deadline`, the request then withdrawn.
    bool wait(std::chrono::steady_clock::time_point deadline) {
        std::unique_lock lock(m_mutex);
        if (m_done.wait_until(lock, deadline, [this] { return m_served; })) return true;
        m_request = nullptr;
        m_pending.store(false, std::memory_order_relaxed);
        return false;
    }
    // The worker's thread, once per round.
    void serve(const core::MappingTable& table, core::TimeMs now) {
        if (!m_pending.load(std::memory_order_acquire)) return;
        {
            std::lock_guard lock(m_mutex);
            if (!m_request) return;
            copy_view(table, *m_request, now, *m_out);
            m_request = nullptr;
            m_served = true;
            m_pending.store(false, std::memory_order_relaxed);
        }
        m_done.notify_all();
    }

private:
    std::atomic<bool> m_pending{false};
    std::mutex m_mutex; // the asking thread and the worker, only while a request is posted
    std::condition_variable m_done;
    const ViewRequest* m_request = nullptr;
    TableView* m_out = nullptr;
    bool m_served = false;
};

} // namespace conenat::engine
