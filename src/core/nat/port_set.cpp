#include "conenat/core/nat/port_set.hpp"

#include <algorithm>
#include <utility>

namespace conenat::core {

PortSet PortSet::from_ranges(std::vector<PortRange> ranges) {
    // Port 0 is never a valid source port (RFC 768 "no port"; RFC 4787 §4.2.1 leaves it undefined).
    std::erase_if(ranges, [](const PortRange& r) { return r.last == 0 || r.first > r.last; });
    for (PortRange& r : ranges)
        r.first = std::max<std::uint16_t>(r.first, 1);
    std::sort(ranges.begin(), ranges.end(),
              [](const PortRange& a, const PortRange& b) { return a.first < b.first; });

    PortSet set;
    for (const PortRange& r : ranges) {
        if (!set.m_ranges.empty() && std::uint32_t(r.first) <= std::uint32_t(set.m_ranges.back().last) + 1)
            set.m_ranges.back().last = std::max(set.m_ranges.back().last, r.last);
        else
            set.m_ranges.push_back(r);
    }
    set.m_prefix.reserve(set.m_ranges.size());
    for (const PortRange& r : set.m_ranges) {
        set.m_prefix.push_back(set.m_size);
        set.m_size += std::uint32_t(r.last) - r.first + 1;
    }
    return set;
}

std::optional<PortSet> PortSet::map_e(unsigned psid, unsigned psid_len, unsigned offset, std::string* error) {
    auto fail = [&](const char* why) -> std::optional<PortSet> {
        if (error)
            *error = why;
        return std::nullopt;
    };
    if (psid_len > 15)
        return fail("MAP-E: PSID length must be at most 15 bits");
    if (offset > 16 || offset + psid_len > 16)
        return fail("MAP-E: PSID offset + PSID length must be at most 16 bits");
    if (psid >= (1u << psid_len))
        return fail("MAP-E: PSID does not fit in PSID length bits");

    // RFC 7597 §5.1: port bits read A (offset) | PSID (psid_len) | j (m); A = 0 is excluded when
    // offset > 0 so that the CE never gets ports 0 .. 2^(16-offset)-1.
    const unsigned m = 16 - offset - psid_len;
    const std::uint32_t run = 1u << m;
    std::vector<PortRange> ranges;
    const std::uint32_t first_a = offset > 0 ? 1 : 0;
    const std::uint32_t a_count = 1u << offset;
    ranges.reserve(a_count);
    for (std::uint32_t a = first_a; a < a_count; ++a) {
        const std::uint32_t base = (a << (psid_len + m)) | (psid << m);
        ranges.push_back({std::uint16_t(base), std::uint16_t(base + run - 1)});
    }
    return from_ranges(std::move(ranges));
}

PortSet PortSet::without(const std::vector<PortRange>& ranges) const {
    const PortSet cut = from_ranges(ranges); // sorted, disjoint
    std::vector<PortRange> left;
    for (const PortRange& r : m_ranges) {
        std::uint32_t from = r.first; // the part of r not yet cut or kept
        for (const PortRange& c : cut.m_ranges) {
            if (c.last < from || c.first > r.last) continue;
            if (c.first > from) left.push_back({std::uint16_t(from), std::uint16_t(c.first - 1)});
            from = std::uint32_t(c.last) + 1;
        }
        if (from <= r.last) left.push_back({std::uint16_t(from), r.last});
    }
    return from_ranges(std::move(left));
}

bool PortSet::contains(std::uint16_t port) const {
    return index_of(port).has_value();
}

std::uint16_t PortSet::at(std::uint32_t index) const {
    const auto it = std::upper_bound(m_prefix.begin(), m_prefix.end(), index);
    const std::size_t r = std::size_t(it - m_prefix.begin()) - 1;
    return std::uint16_t(m_ranges[r].first + (index - m_prefix[r]));
}

std::optional<std::uint32_t> PortSet::index_of(std::uint16_t port) const {
    const auto it = std::upper_bound(m_ranges.begin(), m_ranges.end(), port,
                                     [](std::uint16_t p, const PortRange& r) { return p < r.first; });
    if (it == m_ranges.begin())
        return std::nullopt;
    const std::size_t r = std::size_t(it - m_ranges.begin()) - 1;
    if (port > m_ranges[r].last)
        return std::nullopt;
    return m_prefix[r] + (port - m_ranges[r].first);
}

} // namespace conenat::core
