// What every software worker (queue, tun) keeps around its Translator: the mapping log's buffer
// (the table's observer), the table's consistency check, the heartbeat Engine::alive reads, and
// the slot through which conenatctl asks its thread for a copy of the table. run_worker
// (worker_loop.hpp) calls beat and serve_view once a round.
#pragma once

#include "conenat/core/nat/translator.hpp"
#include "conenat/engine/heartbeat.hpp"
#include "engine/common/mapping_log.hpp"
#include "engine/common/table_check.hpp"
#include "engine/software/view_slot.hpp"

#include <cstdint>

namespace conenat::engine {

class TranslatingWorker {
public:
    TranslatingWorker(const TranslatingWorker&) = delete;
    TranslatingWorker& operator=(const TranslatingWorker&) = delete;

    // Whether its thread went round its loop lately (Engine::alive).
    bool alive(core::TimeMs now) const { return m_heartbeat.recent(now); }
    // conenatctl: requests to its thread; table() only while the thread is paused.
    ViewSlot& view_slot() { return m_view; }
    const core::MappingTable& table() const { return m_translator.table(); }

protected:
    TranslatingWorker(const core::NatConfig& config, std::uint64_t seed) : m_translator(config, seed) {
        m_translator.table().set_observer(&m_mapping_log);
    }
    ~TranslatingWorker() = default;

    void beat(core::TimeMs now) { m_heartbeat.beat(now); }
    void serve_view(core::TimeMs now) { m_view.serve(m_translator.table(), now); }

    core::Translator m_translator;
    MappingLogBuffer m_mapping_log; // written each round when due, and at each publish
    TableCheck m_check;
    Heartbeat m_heartbeat;
    ViewSlot m_view;
};

} // namespace conenat::engine
