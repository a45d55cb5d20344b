// Fixed-capacity storage for the NAT tables: a slab of records addressed by 32-bit index,
// chained hash indices threaded through the records, and deadline lists. Everything is
// sized at construction, so the packet path never allocates.
#pragma once

#include <cstdint>
#include <vector>

namespace conenat::core {

constexpr std::uint32_t kNil = 0xffffffffu;

// Records of type T with a free list threaded through T::list_next.
template <typename T>
class Slab {
public:
    explicit Slab(std::uint32_t capacity) : m_items(capacity) {
        for (std::uint32_t i = 0; i < capacity; ++i) m_items[i].list_next = i + 1 < capacity ? i + 1 : kNil;
        m_free = capacity ? 0 : kNil;
    }
    std::uint32_t alloc() {
        const std::uint32_t i = m_free;
        if (i == kNil) return kNil;
        m_free = m_items[i].list_next;
        m_items[i] = T{};
        ++m_live;
        return i;
    }
    void free(std::uint32_t i) {
        m_items[i].list_next = m_free;
        m_free = i;
        --m_live;
    }
    // More slots, for a reconfigure (never on the packet path): ids and records stay put.
    void grow(std::uint32_t capacity) {
        const auto old = std::uint32_t(m_items.size());
        if (capacity <= old) return;
        m_items.resize(capacity);
        for (std::uint32_t i = old; i < capacity; ++i) m_items[i].list_next = i + 1 < capacity ? i + 1 : m_free;
        m_free = old;
    }
    T& operator[](std::uint32_t i) { return m_items[i]; }
    const T& operator[](std::uint32_t i) const { return m_items[i]; }
    std::uint32_t live() const { return m_live; }
    const T* data() const { return m_items.data(); }
    std::uint32_t capacity() const { return std::uint32_t(m_items.size()); }
    std::size_t bytes() const { return m_items.capacity() * sizeof(T); }

private:
    std::vector<T> m_items;
    std::uint32_t m_free = kNil;
    std::uint32_t m_live = 0;
};

// Chained hash index over a Slab<T>; the chain link is the member `Next`.
template <typename T, std::uint32_t T::*Next>
class HashIndex {
public:
    // Twice as many buckets as records: chains stay about one record long, so a lookup is
    // one bucket and one record (both prefetchable).
    explicit HashIndex(std::uint32_t capacity) {
        std::uint64_t n = 16;
        while (n < 2ull * capacity) n <<= 1;
        m_buckets.assign(n, kNil);
        m_mask = n - 1;
    }
    // Empty, sized for `capacity` records (the caller inserts them again).
    void reset(std::uint32_t capacity) { *this = HashIndex(capacity); }
    template <typename Eq>
    std::uint32_t find(const Slab<T>& slab, std::uint64_t hash, Eq&& eq) const {
        for (std::uint32_t i = m_buckets[hash & m_mask]; i != kNil; i = slab[i].*Next)
            if (eq(slab[i])) return i;
        return kNil;
    }
    void insert(Slab<T>& slab, std::uint64_t hash, std::uint32_t i) {
        std::uint32_t& head = m_buckets[hash & m_mask];
        slab[i].*Next = head;
        head = i;
    }
    void erase(Slab<T>& slab, std::uint64_t hash, std::uint32_t i) {
        for (std::uint32_t* link = &m_buckets[hash & m_mask]; *link != kNil; link = &(slab[*link].*Next))
            if (*link == i) {
                *link = slab[i].*Next;
                return;
            }
    }
    std::size_t bytes() const { return m_buckets.capacity() * sizeof(std::uint32_t); }
    const std::uint32_t* bucket(std::uint64_t hash) const { return &m_buckets[hash & m_mask]; }

private:
    std::vector<std::uint32_t> m_buckets;
    std::uint64_t m_mask = 0;
};

// A doubly linked list of records in deadline order (all records of one list share one
// timeout, so appending on refresh keeps it sorted: the head is the stalest, as in VPP).
template <typename T>
class DeadlineList {
public:
    std::uint32_t front() const { return m_head; }
    bool empty() const { return m_head == kNil; }
    void push_back(Slab<T>& slab, std::uint32_t i) {
        slab[i].list_prev = m_tail;
        slab[i].list_next = kNil;
        (m_tail == kNil ? m_head : slab[m_tail].list_next) = i;
        m_tail = i;
    }
    // For a record already due: the head is where the sweep looks first.
    void push_front(Slab<T>& slab, std::uint32_t i) {
        slab[i].list_prev = kNil;
        slab[i].list_next = m_head;
        (m_head == kNil ? m_tail : slab[m_head].list_prev) = i;
        m_head = i;
    }
    void remove(Slab<T>& slab, std::uint32_t i) {
        T& r = slab[i];
        (r.list_prev == kNil ? m_head : slab[r.list_prev].list_next) = r.list_next;
        (r.list_next == kNil ? m_tail : slab[r.list_next].list_prev) = r.list_prev;
    }

private:
    std::uint32_t m_head = kNil, m_tail = kNil;
};

// Seeded 64-bit mixing of up to two key words (keys are attacker-influenced: seed it).
inline std::uint64_t hash_words(std::uint64_t a, std::uint64_t b, std::uint64_t seed) {
    std::uint64_t h = (a ^ seed) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 32;
    h = (h ^ b) * 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    return h;
}

} // namespace conenat::core
