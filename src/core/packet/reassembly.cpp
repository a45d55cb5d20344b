#include "conenat/core/packet/reassembly.hpp"

#include "conenat/core/packet/checksum.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace conenat::core {
namespace {

constexpr std::size_t IpMinHeader = 20, IpMaxHeader = 60, IpMaxTotal = 65535;
constexpr std::uint16_t IpFlagMf = 0x2000, IpFragOffsetMask = 0x1fff;
// Fragment offsets count 8-byte units (RFC 791); overlap is tracked per unit.
constexpr std::size_t Unit = 8;
constexpr TimeMs Never = std::numeric_limits<TimeMs>::max();

bool test_bit(const std::uint64_t* bits, std::size_t i) { return (bits[i / 64] >> (i % 64)) & 1; }
void set_bit(std::uint64_t* bits, std::size_t i) { bits[i / 64] |= std::uint64_t(1) << (i % 64); }

// Bits for every unit of the largest payload, plus one: the duplicate test reads the unit past a fragment.
std::size_t bitmap_words(std::size_t max_datagram) { return (max_datagram - IpMinHeader + Unit - 1) / Unit / 64 + 1; }

ReassemblyConfig sane(ReassemblyConfig c) {
    c.slots = std::max<std::size_t>(c.slots, 1);
    c.slots_per_source = std::clamp<std::size_t>(c.slots_per_source, 1, c.slots);
    c.max_datagram = std::clamp(c.max_datagram, IpMinHeader + Unit, IpMaxTotal);
    return c;
}

} // namespace

// What reassembly reads from a fragment's header. Offsets and lengths are payload bytes.
struct Reassembler::Fragment {
    enum class Claim : std::uint8_t { NotFragment, Fragment, Malformed };

    Ipv4 src = 0, dst = 0;
    std::uint8_t proto = 0;
    std::uint16_t id = 0;
    bool more = false; // MF: not the last fragment
    std::size_t offset = 0;
    std::span<const std::uint8_t> header, payload;

    std::size_t end() const { return offset + payload.size(); }

    // Only a readable IPv4 header with MF or an offset makes a fragment; a fragment must then
    // be whole and right: header checksum, lengths inside the buffer, a payload, and a multiple
    // of 8 bytes of it unless it is the last one (RFC 791: offsets count 8-byte units).
    Claim read(std::span<const std::uint8_t> pkt) {
        if (pkt.size() < IpMinHeader || pkt[0] >> 4 != 4)
            return Claim::NotFragment;
        const std::uint16_t frag = load16(&pkt[6]);
        if ((frag & (IpFlagMf | IpFragOffsetMask)) == 0)
            return Claim::NotFragment;
        const std::size_t hlen = std::size_t(pkt[0] & 0x0f) * 4;
        const std::size_t ip_len = load16(&pkt[2]);
        if (hlen < IpMinHeader || hlen > pkt.size() || ip_len < hlen || ip_len > pkt.size())
            return Claim::Malformed;
        if (csum_fold(csum_partial(pkt.first(hlen))) != 0xffff)
            return Claim::Malformed;
        src = load32(&pkt[12]);
        dst = load32(&pkt[16]);
        proto = pkt[9];
        id = load16(&pkt[4]);
        more = (frag & IpFlagMf) != 0;
        offset = std::size_t(frag & IpFragOffsetMask) * Unit;
        header = pkt.first(hlen);
        payload = pkt.subspan(hlen, ip_len - hlen);
        // An empty fragment adds nothing and cannot be placed (Linux discards it too).
        if (payload.empty() || (more && payload.size() % Unit != 0))
            return Claim::Malformed;
        return Claim::Fragment;
    }
};

// One datagram in reassembly. Its buffer holds IpMaxHeader bytes of room, then the payload at
// its offset; the first fragment's header goes right before the payload, so the finished
// datagram is one contiguous span and is handed out without a copy.
struct Reassembler::Slot {
    std::uint8_t* buffer = nullptr;
    std::uint64_t* units = nullptr;  // 8-byte units received
    std::uint64_t* starts = nullptr; // units where a received fragment begins (duplicate test)
    bool used = false;
    Ipv4 src = 0, dst = 0;
    std::uint8_t proto = 0;
    std::uint16_t id = 0;
    TimeMs deadline = 0;      // first fragment's time + timeout: also the age order for eviction
    std::size_t hlen = 0;     // the first fragment's header length; 0 until it arrives
    bool have_last = false;   // the fragment with MF clear arrived: `total` is known
    std::size_t total = 0;    // payload length of the datagram
    std::size_t max_end = 0;  // highest payload end received
    std::size_t received = 0; // payload bytes received (fragments never overlap)

    std::uint8_t* payload() const { return buffer + IpMaxHeader; }
};

Reassembler::Reassembler(const ReassemblyConfig& config) : m_config(sane(config)), m_slots(m_config.slots) {
    const std::size_t buffer_bytes = IpMaxHeader + m_config.max_datagram - IpMinHeader;
    const std::size_t words = bitmap_words(m_config.max_datagram);
    // Payload bytes are always written before they are read: the buffers need no zeroing.
    m_buffers = std::make_unique_for_overwrite<std::uint8_t[]>(m_config.slots * buffer_bytes);
    m_bitmaps = std::make_unique<std::uint64_t[]>(m_config.slots * 2 * words);
    for (std::size_t i = 0; i < m_slots.size(); ++i) {
        m_slots[i].buffer = &m_buffers[i * buffer_bytes];
        m_slots[i].units = &m_bitmaps[2 * i * words];
        m_slots[i].starts = &m_bitmaps[(2 * i + 1) * words];
    }
    m_next_deadline = Never;
}

Reassembler::~Reassembler() = default;
Reassembler::Reassembler(Reassembler&&) noexcept = default;
Reassembler& Reassembler::operator=(Reassembler&&) noexcept = default;

Reassembler::Result Reassembler::feed(std::span<const std::uint8_t> packet, TimeMs now) {
    Fragment f;
    const Fragment::Claim claim = f.read(packet);
    if (claim == Fragment::Claim::NotFragment)
        return {};
    ++m_counters.fragments_in;
    if (claim == Fragment::Claim::Malformed)
        return drop(nullptr, m_counters.dropped_malformed);
    if (now >= m_next_deadline)
        expire(now);
    if (Slot* slot = find(f))
        return add(*slot, f);
    // A datagram that cannot fit takes no slot (and evicts nobody).
    if (f.header.size() + f.end() > m_config.max_datagram)
        return drop(nullptr, m_counters.dropped_too_big);
    Slot* slot = start(f, now);
    if (!slot)
        return drop(nullptr, m_counters.dropped_source_share);
    return add(*slot, f);
}

void Reassembler::expire(TimeMs now) {
    m_next_deadline = Never;
    for (Slot& s : m_slots) {
        if (!s.used)
            continue;
        if (s.deadline <= now) {
            release(s);
            ++m_counters.timed_out;
        } else {
            m_next_deadline = std::min(m_next_deadline, s.deadline);
        }
    }
}

Reassembler::Slot* Reassembler::find(const Fragment& f) {
    for (Slot& s : m_slots)
        if (s.used && s.id == f.id && s.src == f.src && s.dst == f.dst && s.proto == f.proto)
            return &s;
    return nullptr;
}

// A slot for a new datagram: a free one, else the oldest unfinished one's. A source already
// holding its share gets none, so one flooding source cannot take (or evict) everyone's.
Reassembler::Slot* Reassembler::start(const Fragment& f, TimeMs now) {
    Slot* free = nullptr;
    Slot* oldest = nullptr;
    std::size_t from_source = 0;
    for (Slot& s : m_slots) {
        if (!s.used) {
            free = free ? free : &s;
            continue;
        }
        from_source += s.src == f.src;
        if (!oldest || s.deadline < oldest->deadline)
            oldest = &s;
    }
    if (from_source >= m_config.slots_per_source)
        return nullptr;
    if (!free) {
        release(*oldest);
        ++m_counters.evicted;
        free = oldest;
    }
    Slot& s = *free;
    s.used = true;
    s.src = f.src;
    s.dst = f.dst;
    s.proto = f.proto;
    s.id = f.id;
    s.deadline = now < Never - m_config.timeout_ms ? now + m_config.timeout_ms : Never;
    m_next_deadline = std::min(m_next_deadline, s.deadline);
    ++m_in_progress;
    return &s;
}

Reassembler::Result Reassembler::add(Slot& slot, const Fragment& f) {
    const std::size_t end = f.end();
    // The datagram must fit with the first fragment's header (this one's until it arrives).
    const bool first = f.offset == 0;
    const std::size_t header = first || slot.hlen == 0 ? f.header.size() : slot.hlen;
    if (header + (first ? std::max(end, slot.max_end) : end) > m_config.max_datagram)
        return drop(&slot, m_counters.dropped_too_big);
    // The last fragment fixes the end: nothing may reach past it, and there is only one.
    if (f.more ? slot.have_last && end > slot.total
               : (slot.have_last && end != slot.total) || end < slot.max_end)
        return drop(&slot, m_counters.dropped_overlap);

    const std::size_t first_unit = f.offset / Unit, end_unit = (end + Unit - 1) / Unit;
    std::size_t u = first_unit;
    while (u < end_unit && !test_bit(slot.units, u))
        ++u;
    if (u < end_unit) {
        // Overlap. Ignored only when it repeats one received fragment exactly: it starts where
        // that one started, no other starts inside it, it ends where the received run ends or
        // the next fragment starts, and the bytes are the same.
        bool same = test_bit(slot.starts, first_unit);
        for (u = first_unit + 1; same && u < end_unit; ++u)
            same = test_bit(slot.units, u) && !test_bit(slot.starts, u);
        same = same && (!test_bit(slot.units, end_unit) || test_bit(slot.starts, end_unit)) &&
               std::memcmp(slot.payload() + f.offset, f.payload.data(), f.payload.size()) == 0;
        if (!same)
            return drop(&slot, m_counters.dropped_overlap);
        return {Status::Incomplete, {}};
    }

    std::memcpy(slot.payload() + f.offset, f.payload.data(), f.payload.size());
    for (u = first_unit; u < end_unit; ++u)
        set_bit(slot.units, u);
    set_bit(slot.starts, first_unit);
    slot.received += f.payload.size();
    slot.max_end = std::max(slot.max_end, end);
    if (!f.more) {
        slot.have_last = true;
        slot.total = end;
    }
    if (first) {
        // RFC 791: the first fragment's header, with all its options, is the datagram's.
        slot.hlen = f.header.size();
        std::memcpy(slot.payload() - slot.hlen, f.header.data(), slot.hlen);
    }
    if (slot.hlen != 0 && slot.have_last && slot.received == slot.total)
        return complete(slot);
    return {Status::Incomplete, {}};
}

Reassembler::Result Reassembler::complete(Slot& slot) {
    std::uint8_t* ip = slot.payload() - slot.hlen;
    const std::size_t size = slot.hlen + slot.total;
    store16(&ip[2], std::uint16_t(size));
    store16(&ip[6], std::uint16_t(load16(&ip[6]) & ~(IpFlagMf | IpFragOffsetMask))); // DF, reserved bit stay
    store16(&ip[10], 0);
    store16(&ip[10], csum_finish(csum_partial({ip, slot.hlen})));
    // The bytes stay in the buffer until the next feed() reuses the slot.
    release(slot);
    ++m_counters.datagrams_done;
    return {Status::Complete, {ip, size}};
}

Reassembler::Result Reassembler::drop(Slot* slot, std::uint64_t& counter) {
    if (slot)
        release(*slot);
    ++counter;
    return {Status::Dropped, {}};
}

void Reassembler::release(Slot& slot) {
    // Clear only the bitmap words this datagram can have touched (its units below max_end).
    const std::size_t words = std::min((slot.max_end + Unit - 1) / Unit / 64 + 1, bitmap_words(m_config.max_datagram));
    std::fill_n(slot.units, words, 0);
    std::fill_n(slot.starts, words, 0);
    slot = Slot{.buffer = slot.buffer, .units = slot.units, .starts = slot.starts};
    --m_in_progress;
}

} // namespace conenat::core
