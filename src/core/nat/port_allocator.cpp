#include "conenat/core/nat/port_allocator.hpp"

#include <algorithm>
#include <bit>

namespace conenat::core {

namespace {

constexpr unsigned kNoSlot = 3;
// RFC 6056 §3.3.1 draws until a free port turns up; a fixed number keeps the flow-setup cost
// bounded, and the scan behind it still finds any free port (CGN-11: fail only when full).
constexpr int kRandomDraws = 16;
constexpr int kAnyParity = -1;

// RFC 7857 §5: one port space per protocol.
unsigned slot_of(Proto proto) {
    switch (proto) {
    case Proto::Udp: return 0;
    case Proto::Tcp: return 1;
    case Proto::Icmp: return 2;
    }
    return kNoSlot;
}

bool bit(const std::uint64_t* words, std::uint32_t index) {
    return (words[index / 64] >> (index % 64)) & 1;
}

} // namespace

PortAllocator::PortAllocator(PoolConfig config, std::uint64_t seed)
    : m_config(std::move(config)), m_rng(seed) {
    // A repeated address would get two bitmaps and could hand one endpoint out twice (UDP-3).
    std::vector<Ipv4>& addrs = m_config.external_addrs;
    for (std::uint32_t i = 0; i < addrs.size(); ++i)
        m_addr_lookup.emplace_back(addrs[i], i);
    std::sort(m_addr_lookup.begin(), m_addr_lookup.end());
    const auto dup = std::unique(m_addr_lookup.begin(), m_addr_lookup.end(),
                                 [](const auto& a, const auto& b) { return a.first == b.first; });
    if (dup != m_addr_lookup.end()) {
        m_addr_lookup.erase(dup, m_addr_lookup.end());
        std::sort(m_addr_lookup.begin(), m_addr_lookup.end(),
                  [](const auto& a, const auto& b) { return a.second < b.second; });
        addrs.clear();
        for (auto& [addr, index] : m_addr_lookup) {
            index = std::uint32_t(addrs.size());
            addrs.push_back(addr);
        }
        std::sort(m_addr_lookup.begin(), m_addr_lookup.end());
    }

    const PortSet& ports = m_config.ports;
    m_words = (ports.size() + 63) / 64;
    m_odd.assign(m_words, 0);
    for (std::uint32_t i = 0; i < ports.size(); ++i)
        if (ports.at(i) & 1)
            m_odd[i / 64] |= std::uint64_t(1) << (i % 64);
    for (const PortRange& r : ports.ranges())
        if (r.first < 1024)
            m_low_count += std::min<std::uint32_t>(r.last, 1023) - r.first + 1;
    if (m_config.block_size > 0)
        m_blocks_per_addr = ports.size() / m_config.block_size;

    const std::size_t words = std::size_t(3) * addrs.size() * m_words;
    m_used_bits.assign(words, 0);
    if (m_config.quarantine_ms > 0 && m_config.quarantine_max > 0) {
        m_ring.resize(m_config.quarantine_max);
        m_quarantine_bits.assign(words, 0);
    }
}

std::uint32_t PortAllocator::address_index_for(Ipv4 host) const {
    if (auto block = block_for(host))
        return block->addr_index;
    const auto n = std::uint32_t(m_config.external_addrs.size());
    return n == 0 ? 0 : mix32(host) % n;
}

std::optional<PortBlock> PortAllocator::block_for(Ipv4 host) const {
    if (m_blocks_per_addr == 0 || host < m_config.internal_base)
        return std::nullopt;
    const std::uint32_t offset = host - m_config.internal_base;
    const std::uint32_t addr_index = offset / m_blocks_per_addr;
    if (addr_index >= m_config.external_addrs.size())
        return std::nullopt;
    return PortBlock{addr_index, (offset % m_blocks_per_addr) * m_config.block_size, m_config.block_size};
}

std::optional<Ipv4> PortAllocator::host_for(Endpoint ext) const {
    if (m_blocks_per_addr == 0)
        return std::nullopt;
    const auto addr_index = find_addr(ext.addr);
    const auto index = m_config.ports.index_of(ext.port);
    if (!addr_index || !index)
        return std::nullopt;
    // Ports past the last whole block belong to no host (RFC 7422 §2's dynamic pool).
    const std::uint32_t block = *index / m_config.block_size;
    if (block >= m_blocks_per_addr)
        return std::nullopt;
    const std::uint64_t offset = std::uint64_t(*addr_index) * m_blocks_per_addr + block;
    if (offset > std::uint64_t(0xffffffffU - m_config.internal_base))
        return std::nullopt;
    return Ipv4(m_config.internal_base + offset);
}

std::optional<Endpoint> PortAllocator::allocate(Proto proto, Endpoint internal, TimeMs now) {
    expire(now);
    const unsigned slot = slot_of(proto);
    const auto n = std::uint32_t(m_config.external_addrs.size());
    if (slot == kNoSlot || n == 0 || m_config.ports.empty())
        return std::nullopt;

    // Paired pooling (RFC 4787 REQ-2, RFC 6888 REQ-2): one address per host for every protocol,
    // and no overflow to another address when it is full (RFC 7857 §4).
    std::uint32_t addr_index = 0;
    IndexRange cand{0, m_config.ports.size()};
    if (m_config.block_size > 0) {
        const auto block = block_for(internal.addr);
        if (!block)
            return std::nullopt;
        addr_index = block->addr_index;
        cand = {block->first_index, block->first_index + block->count};
    } else {
        addr_index = mix32(internal.addr) % n;
    }
    const std::uint64_t* used = &m_used_bits[word_base(slot, addr_index)];
    const Ipv4 ext_addr = m_config.external_addrs[addr_index];

    if (m_config.preserve_port) {
        const auto index = m_config.ports.index_of(internal.port);
        if (index && *index >= cand.lo && *index < cand.hi && !bit(used, *index)) {
            take(slot, addr_index, *index);
            return Endpoint{ext_addr, internal.port};
        }
    }

    // RFC 4787 REQ-3a: stay in the internal port's class (< 1024 or >= 1024) while the set has
    // any port of that class; the set is ordered by port, so each class is one index range.
    const std::uint32_t split = std::clamp(m_low_count, cand.lo, cand.hi);
    IndexRange own{cand.lo, split}, other{split, cand.hi};
    if (internal.port >= 1024)
        std::swap(own, other);
    if (own.lo == own.hi)
        std::swap(own, other);

    // RFC 4787 REQ-4 / RFC 7857 §9: random, with the parity forced; parity outranks the class.
    const int parity = m_config.preserve_parity ? (internal.port & 1) : kAnyParity;
    const Drawer d{slot, internal};
    auto pick = draw(used, own, parity, d);
    if (!pick)
        pick = scan(used, own, parity, d);
    if (!pick)
        pick = scan(used, other, parity, d);
    if (!pick && parity != kAnyParity) {
        pick = scan(used, own, kAnyParity, d);
        if (!pick)
            pick = scan(used, other, kAnyParity, d);
    }
    if (!pick)
        return std::nullopt;
    take(slot, addr_index, *pick);
    return Endpoint{ext_addr, m_config.ports.at(*pick)};
}

bool PortAllocator::claim(Proto proto, Endpoint ext) {
    const unsigned slot = slot_of(proto);
    const auto addr_index = find_addr(ext.addr);
    const auto index = m_config.ports.index_of(ext.port);
    if (slot == kNoSlot || !addr_index || !index || test(slot, *addr_index, *index))
        return false;
    take(slot, *addr_index, *index);
    return true;
}

bool PortAllocator::reserve(Proto proto, Endpoint ext) {
    if (claim(proto, ext))
        return true;
    const unsigned slot = slot_of(proto);
    const auto addr_index = find_addr(ext.addr);
    const auto index = m_config.ports.index_of(ext.port);
    if (slot == kNoSlot || !addr_index || !index || m_ring.empty())
        return false;
    std::uint64_t& word = m_quarantine_bits[word_base(slot, *addr_index) + *index / 64];
    const std::uint64_t mask = std::uint64_t(1) << (*index % 64);
    if (!(word & mask))
        return false; // a mapping owns it
    word &= ~mask;    // still used; its ring entry, when it leaves, finds the bit clear and frees nothing
    return true;
}

void PortAllocator::release(Proto proto, Endpoint ext, TimeMs now, bool quarantine) {
    const unsigned slot = slot_of(proto);
    const auto addr_index = find_addr(ext.addr);
    const auto index = m_config.ports.index_of(ext.port);
    if (slot == kNoSlot || !addr_index || !index)
        return;
    expire(now);
    if (!test(slot, *addr_index, *index))
        return;
    const std::size_t base = word_base(slot, *addr_index);
    const std::uint64_t mask = std::uint64_t(1) << (*index % 64);
    if (!m_ring.empty() && (m_quarantine_bits[base + *index / 64] & mask))
        return; // already released; its quarantine runs on
    if (!quarantine || m_ring.empty()) {
        free_now(slot, *addr_index, *index);
        return;
    }
    // CGN-8 (RFC 6888 REQ-8): the number of quarantined ports is bounded; the oldest leaves early.
    if (m_q_count == m_ring.size())
        pop_quarantine();
    m_ring[(m_q_head + m_q_count) % m_ring.size()] = {now, *addr_index, *index, std::uint8_t(slot)};
    ++m_q_count;
    m_quarantine_bits[base + *index / 64] |= mask;
}

void PortAllocator::carry_quarantine(const PortAllocator& old, TimeMs now) {
    if (m_ring.empty())
        return;
    for (std::uint32_t i = 0; i < old.m_q_count; ++i) { // oldest first: the ring stays in order
        const Quarantined& q = old.m_ring[(old.m_q_head + i) % old.m_ring.size()];
        if (!bit(&old.m_quarantine_bits[old.word_base(q.slot, q.addr_index)], q.index))
            continue; // reserve() took it meanwhile
        if (now >= q.since && now - q.since >= m_config.quarantine_ms)
            continue;
        const auto addr_index = find_addr(old.m_config.external_addrs[q.addr_index]);
        const auto index = m_config.ports.index_of(old.m_config.ports.at(q.index));
        if (!addr_index || !index || test(q.slot, *addr_index, *index))
            continue;
        if (m_q_count == m_ring.size())
            pop_quarantine();
        take(q.slot, *addr_index, *index);
        m_ring[(m_q_head + m_q_count) % m_ring.size()] = {q.since, *addr_index, *index, q.slot};
        ++m_q_count;
        m_quarantine_bits[word_base(q.slot, *addr_index) + *index / 64] |= std::uint64_t(1) << (*index % 64);
    }
}

bool PortAllocator::in_use(Proto proto, Endpoint ext) const {
    const unsigned slot = slot_of(proto);
    const auto addr_index = find_addr(ext.addr);
    const auto index = m_config.ports.index_of(ext.port);
    return slot != kNoSlot && addr_index && index && test(slot, *addr_index, *index);
}

std::uint32_t PortAllocator::used(Proto proto) const {
    const unsigned slot = slot_of(proto);
    return slot == kNoSlot ? 0 : m_used[slot];
}

std::uint32_t PortAllocator::capacity() const {
    return std::uint32_t(m_config.external_addrs.size()) * m_config.ports.size();
}

std::optional<std::uint32_t> PortAllocator::find_addr(Ipv4 addr) const {
    const auto it = std::lower_bound(m_addr_lookup.begin(), m_addr_lookup.end(), addr,
                                     [](const auto& entry, Ipv4 a) { return entry.first < a; });
    if (it == m_addr_lookup.end() || it->first != addr)
        return std::nullopt;
    return it->second;
}

std::size_t PortAllocator::word_base(unsigned slot, std::uint32_t addr_index) const {
    return (std::size_t(slot) * m_config.external_addrs.size() + addr_index) * m_words;
}

bool PortAllocator::test(unsigned slot, std::uint32_t addr_index, std::uint32_t index) const {
    return bit(&m_used_bits[word_base(slot, addr_index)], index);
}

void PortAllocator::take(unsigned slot, std::uint32_t addr_index, std::uint32_t index) {
    m_used_bits[word_base(slot, addr_index) + index / 64] |= std::uint64_t(1) << (index % 64);
    ++m_used[slot];
}

void PortAllocator::free_now(unsigned slot, std::uint32_t addr_index, std::uint32_t index) {
    m_used_bits[word_base(slot, addr_index) + index / 64] &= ~(std::uint64_t(1) << (index % 64));
    --m_used[slot];
}

void PortAllocator::expire(TimeMs now) {
    while (m_q_count > 0 && now >= m_ring[m_q_head].since &&
           now - m_ring[m_q_head].since >= m_config.quarantine_ms)
        pop_quarantine();
}

void PortAllocator::pop_quarantine() {
    const Quarantined& q = m_ring[m_q_head];
    std::uint64_t& word = m_quarantine_bits[word_base(q.slot, q.addr_index) + q.index / 64];
    const std::uint64_t mask = std::uint64_t(1) << (q.index % 64);
    if (word & mask) { // clear when reserve() took the port out of quarantine
        word &= ~mask;
        free_now(q.slot, q.addr_index, q.index);
    }
    m_q_head = (m_q_head + 1) % std::uint32_t(m_ring.size());
    --m_q_count;
}

std::uint32_t PortAllocator::choice(const Drawer& d, std::uint32_t i, std::uint32_t bound) {
    if (!m_config.port_key)
        return m_rng.below(bound);
    // RFC 6056 §3.3.3 (Simple Hash-Based): F(key, internal endpoint, i). Outsiders without the
    // key cannot predict it; both routers of a pair compute the same, so an endpoint whose
    // mapping was idle at a failover (conntrackd carried no flow of it) gets its port back.
    std::uint8_t in[11] = {std::uint8_t(d.slot)};
    for (int b = 0; b < 4; ++b) in[1 + b] = std::uint8_t(d.internal.addr >> (8 * b));
    in[5] = std::uint8_t(d.internal.port);
    in[6] = std::uint8_t(d.internal.port >> 8);
    for (int b = 0; b < 4; ++b) in[7 + b] = std::uint8_t(i >> (8 * b));
    return scale_below(std::uint32_t(siphash24(*m_config.port_key, in, sizeof in)), bound);
}

std::optional<std::uint32_t> PortAllocator::draw(const std::uint64_t* used, IndexRange r, int parity, const Drawer& d) {
    if (r.lo == r.hi)
        return std::nullopt;
    for (int i = 0; i < kRandomDraws; ++i) {
        std::uint32_t index = r.lo + choice(d, std::uint32_t(i), r.hi - r.lo);
        // A draw of the wrong parity moves to its neighbour, so that no draw is wasted.
        if (parity != kAnyParity && int(bit(m_odd.data(), index)) != parity) {
            if (index + 1 < r.hi && int(bit(m_odd.data(), index + 1)) == parity)
                ++index;
            else if (index > r.lo && int(bit(m_odd.data(), index - 1)) == parity)
                --index;
            else
                continue;
        }
        if (!bit(used, index))
            return index;
    }
    return std::nullopt;
}

std::optional<std::uint32_t> PortAllocator::scan(const std::uint64_t* used, IndexRange r, int parity, const Drawer& d) {
    if (r.lo == r.hi)
        return std::nullopt;
    // RFC 6056 §3.3.1: walk on from a random (or keyed) start, wrapping once.
    const std::uint32_t start = r.lo + choice(d, kRandomDraws, r.hi - r.lo);
    auto first_free = [&](std::uint32_t from, std::uint32_t to) -> std::optional<std::uint32_t> {
        for (std::uint32_t w = from / 64; w * 64 < to; ++w) {
            std::uint64_t free = ~used[w];
            if (parity == 1)
                free &= m_odd[w];
            else if (parity == 0)
                free &= ~m_odd[w];
            if (w == from / 64)
                free &= ~std::uint64_t(0) << (from % 64);
            if ((w + 1) * 64 > to)
                free &= (std::uint64_t(1) << (to % 64)) - 1;
            if (free)
                return w * 64 + std::uint32_t(std::countr_zero(free));
        }
        return std::nullopt;
    };
    if (auto index = first_free(start, r.hi))
        return index;
    return first_free(r.lo, start);
}

} // namespace conenat::core
