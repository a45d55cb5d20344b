// conenatctl's view of the conntrack engine: its one table, copied under the mutex its two
// threads share (the first packets wait that long; the kernel translates the rest meanwhile).
#include "engine/conntrack/engine.hpp"

#include "conenat/engine/clock.hpp"

namespace conenat::engine {

Result<TableView> ConntrackEngine::view(const ViewRequest& request) {
    TableView v;
    std::lock_guard lock(m_mutex);
    const core::TimeMs now = now_ms();
    v.config = m_table.config();
    v.tables = 1;
    v.role = role();
    v.takeover_left_ms = grace_left(now);
    v.mapping_count = m_table.mapping_count();
    v.session_count = m_table.session_count();
    if (request.mappings) v.truncated |= !m_table.view_mappings(now, request.filter, request.limit, v.mappings);
    if (request.sessions) v.truncated |= !m_table.view_sessions(now, request.filter, request.limit, v.sessions);
    return v;
}

} // namespace conenat::engine
