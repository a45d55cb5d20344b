// A single-producer, single-consumer ring of variable-size records: how a software-engine
// worker passes a packet to the worker that owns its state (no lock, no allocation after
// construction). Positions only grow; the producer owns `tail`, the consumer `head`. A record
// is an 8-byte header (length, tag) and its bytes, padded to 8; one that would not fit before
// the end of the buffer starts at its beginning (a pad header skips the rest). A consumer uses
// records in place and pops them when done: the producer cannot overwrite them before that.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace conenat::engine {

class HandoffRing {
public:
    // `bytes`: a power of two; records of up to bytes / 2 - 8 always fit into an empty ring.
    explicit HandoffRing(std::size_t bytes) : m_size(bytes), m_buf(new std::uint8_t[bytes]) {}

    std::size_t max_record() const { return m_size / 2 - kHeader; }

    // Producer: false (nothing written) when the ring has no room (the consumer is behind).
    bool push(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b, std::uint32_t tag) {
        const std::size_t len = a.size() + b.size();
        if (len > max_record())
            return false;
        const std::size_t need = kHeader + round8(len);
        std::uint64_t tail = m_tail.load(std::memory_order_relaxed);
        const std::size_t off = std::size_t(tail & (m_size - 1));
        const std::size_t to_end = m_size - off;
        const std::size_t total = need <= to_end ? need : to_end + need;
        if (m_size - (tail - m_head_cache) < total) {
            m_head_cache = m_head.load(std::memory_order_acquire);
            if (m_size - (tail - m_head_cache) < total)
                return false;
        }
        if (need > to_end) {
            header(off, kPad, 0);
            tail += to_end;
        }
        const std::size_t at = std::size_t(tail & (m_size - 1));
        header(at, std::uint32_t(len), tag);
        std::memcpy(&m_buf[at + kHeader], a.data(), a.size());
        if (!b.empty())
            std::memcpy(&m_buf[at + kHeader + a.size()], b.data(), b.size());
        m_tail.store(tail + need, std::memory_order_release);
        return true;
    }

    struct Record {
        std::span<std::uint8_t> bytes;
        std::uint32_t tag = 0;
    };
    // Consumer: the record at `pos` (start with begin()), or an empty span at the end. Records
    // stay valid until release(pos) of a later position.
    std::uint64_t begin() const { return m_head.load(std::memory_order_relaxed); }
    bool next(std::uint64_t& pos, Record& out) {
        for (;;) {
            if (pos == m_tail_cache) {
                m_tail_cache = m_tail.load(std::memory_order_acquire);
                if (pos == m_tail_cache)
                    return false;
            }
            const std::size_t off = std::size_t(pos & (m_size - 1));
            std::uint32_t len = 0, tag = 0;
            std::memcpy(&len, &m_buf[off], 4);
            std::memcpy(&tag, &m_buf[off + 4], 4);
            if (len == kPad) {
                pos += m_size - off;
                continue;
            }
            out = {std::span(&m_buf[off + kHeader], len), tag};
            pos += kHeader + round8(len);
            return true;
        }
    }
    // Consumer: everything before `pos` may be overwritten.
    void release(std::uint64_t pos) { m_head.store(pos, std::memory_order_release); }

private:
    static constexpr std::size_t kHeader = 8;
    static constexpr std::uint32_t kPad = 0xffffffffu;
    static std::size_t round8(std::size_t n) { return (n + 7) & ~std::size_t(7); }
    void header(std::size_t off, std::uint32_t len, std::uint32_t tag) {
        std::memcpy(&m_buf[off], &len, 4);
        std::memcpy(&m_buf[off + 4], &tag, 4);
    }

    const std::size_t m_size;
    std::unique_ptr<std::uint8_t[]> m_buf;
    alignas(64) std::atomic<std::uint64_t> m_head{0};
    std::uint64_t m_tail_cache = 0; // consumer's view of tail
    alignas(64) std::atomic<std::uint64_t> m_tail{0};
    std::uint64_t m_head_cache = 0; // producer's view of head
};

} // namespace conenat::engine
