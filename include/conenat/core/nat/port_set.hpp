// The set of external ports the NAT may hand out: a union of ranges, or a MAP-E port set.
// Ports are addressed by index 0..size()-1 in increasing port order, so per-host blocks
// and random draws work the same for every kind of set.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace conenat::core {

struct PortRange {
    std::uint16_t first = 0, last = 0; // inclusive
    friend bool operator==(const PortRange&, const PortRange&) = default;
};

class PortSet {
public:
    PortSet() = default;
    // Union of `ranges` (overlaps merged). Empty when `ranges` is empty or only holds port 0.
    static PortSet from_ranges(std::vector<PortRange> ranges);
    // RFC 7597 §5.1: ports whose bits read A(offset) | PSID(psid_len) | j, A != 0 when offset > 0.
    // nullopt (with `error` set) when offset + psid_len > 16, psid_len > 15 or psid >= 2^psid_len.
    static std::optional<PortSet> map_e(unsigned psid, unsigned psid_len, unsigned offset, std::string* error = nullptr);

    // This set minus the ports of `ranges` (e.g. the default pool minus the router's own
    // ephemeral range, net.ipv4.ip_local_port_range).
    PortSet without(const std::vector<PortRange>& ranges) const;

    bool empty() const { return m_size == 0; }
    std::uint32_t size() const { return m_size; }
    bool contains(std::uint16_t port) const;
    std::uint16_t at(std::uint32_t index) const;                 // requires index < size()
    std::optional<std::uint32_t> index_of(std::uint16_t port) const;
    const std::vector<PortRange>& ranges() const { return m_ranges; }

private:
    std::vector<PortRange> m_ranges;       // sorted, disjoint, non-adjacent
    std::vector<std::uint32_t> m_prefix;   // m_prefix[i] = ports in ranges before i
    std::uint32_t m_size = 0;
};

} // namespace conenat::core
