// A batch translated in two passes, outbound first: a mapping created by a packet of the batch
// is there for the replies in it. No allocation: the batch's slots are fixed arrays.
#pragma once

#include "conenat/core/nat/translator.hpp"

#include <array>
#include <cstddef>
#include <span>
#include <utility>

namespace conenat::engine {

// Slots are the caller's indices.
template <std::size_t Batch>
class TwoPassBatch {
public:
    void clear() { m_n[0] = m_n[1] = 0; }
    void add(std::size_t slot, const core::PacketRef& ref, core::Direction dir) {
        const int d = dir == core::Direction::Outbound ? 0 : 1;
        m_refs[d][m_n[d]] = ref;
        m_slot[d][m_n[d]++] = slot;
    }
    // Translates, then calls done(slot, ref) for each packet (its outcome and view after translation).
    template <typename Done>
    void run(core::Translator& t, core::TimeMs now, Done&& done) {
        t.process_batch(std::span(m_refs[0].data(), m_n[0]), core::Direction::Outbound, now);
        t.process_batch(std::span(m_refs[1].data(), m_n[1]), core::Direction::Inbound, now);
        for (int d = 0; d < 2; ++d)
            for (std::size_t j = 0; j < m_n[d]; ++j)
                done(m_slot[d][j], std::as_const(m_refs[d][j]));
    }

private:
    std::array<std::array<core::PacketRef, Batch>, 2> m_refs{};
    std::array<std::array<std::size_t, Batch>, 2> m_slot{};
    std::size_t m_n[2] = {0, 0};
};

} // namespace conenat::engine
