// The terms of nft_terms.hpp that match any of several networks (the internal prefixes: LAN,
// guest, VPN): one prefix stays a masked comparison, several become an anonymous interval set.
#include "conenat/io/nft_terms.hpp"

#include "nft_context.hpp"
#include "nft_layout.hpp"
#include "nft_typeof.hpp"

#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstdio>

namespace conenat::io::nft {

namespace {

using detail::be32;
using detail::kAnonSet;
using detail::kReg;
using detail::SetElem;

struct AddrRange {
    core::Ipv4 first, last;
};

// The networks as sorted, merged address ranges (nft merges adjacent elements of an
// anonymous set: 10.0.0.0/24 and 10.0.1.0/24 list as 10.0.0.0/23).
std::vector<AddrRange> merged(const std::vector<core::Prefix>& nets) {
    std::vector<AddrRange> r;
    for (const core::Prefix& p : nets)
        r.push_back({p.addr & p.mask(), (p.addr & p.mask()) | ~p.mask()});
    std::sort(r.begin(), r.end(), [](const AddrRange& a, const AddrRange& b) { return a.first < b.first; });
    std::vector<AddrRange> out;
    for (const AddrRange& a : r) {
        if (!out.empty() && std::uint64_t(a.first) <= std::uint64_t(out.back().last) + 1)
            out.back().last = std::max(out.back().last, a.last);
        else
            out.push_back(a);
    }
    return out;
}

// "10.0.0.0/23" when the range is one prefix, "10.0.0.0-10.0.2.255" otherwise (as nft lists it).
std::string range_text(const AddrRange& a) {
    const std::uint32_t size = a.last - a.first; // span - 1
    const bool aligned = (size & (size + 1)) == 0 && (a.first & size) == 0;
    if (!aligned)
        return detail::ipv4_text(a.first) + "-" + detail::ipv4_text(a.last);
    unsigned len = 32;
    for (std::uint32_t s = size; s; s >>= 1)
        --len;
    return len == 32 ? detail::ipv4_text(a.first) : detail::cidr_text(a.first, len);
}

std::string hex_range_text(const AddrRange& a) {
    char buf[32];
    if (a.first == a.last)
        std::snprintf(buf, sizeof buf, "%#x", a.first);
    else
        std::snprintf(buf, sizeof buf, "%#x-%#x", a.first, a.last);
    return buf;
}

template <typename F>
std::string set_text(const std::vector<AddrRange>& ranges, F text) {
    std::string s;
    for (const AddrRange& a : ranges)
        s += (s.empty() ? "" : ", ") + text(a);
    return "{ " + s + " }";
}

// Interval-set elements: start keys and end keys one past each range (an end element at 0
// first, as nft writes it, when the first range does not start at 0).
std::vector<SetElem> addr_intervals(const std::vector<AddrRange>& ranges) {
    std::vector<SetElem> elems;
    if (!ranges.empty() && ranges.front().first > 0)
        elems.push_back({be32(0), true, {}});
    for (const AddrRange& a : ranges) {
        elems.push_back({be32(a.first), false, {}});
        if (a.last != 0xffffffffu)
            elems.push_back({be32(a.last + 1), true, {}});
    }
    return elems;
}

// The address at `base` + `offset` is (Eq) / is not (Neq) in the ranges' interval set of nft
// type `type` (with `userdata` for a raw payload).
void addr_set_term(RuleContext& c, std::uint32_t base, std::uint32_t offset, const std::vector<AddrRange>& ranges,
                   Cmp op, std::uint32_t type, const std::vector<std::uint8_t>& userdata = {}) {
    c.rule().payload(base, offset, 4, kReg);
    const std::uint32_t id = c.anon(NFT_SET_INTERVAL, type, 4, addr_intervals(ranges), userdata);
    if (op == Cmp::Eq)
        c.rule().lookup(kReg, kAnonSet, id);
    else
        c.rule().lookup_absent(kReg, kAnonSet, id);
}

constexpr std::uint32_t kTypeInteger = 4, kTypeIpv4Addr = 7;
constexpr std::uint32_t kSaddr = 12, kDaddr = 16, kQuotedDaddr = 24; // quoted: from the ICMP header

Term addr_in(const char* field, std::uint32_t offset, const std::vector<core::Prefix>& nets, Cmp op) {
    const std::vector<AddrRange> ranges = merged(nets);
    return {std::string(field) + (op == Cmp::Eq ? " " : " != ") + set_text(ranges, range_text),
            [=](RuleContext& c) { addr_set_term(c, NFT_PAYLOAD_NETWORK_HEADER, offset, ranges, op, kTypeIpv4Addr); }};
}

} // namespace

Term saddr_in(const std::vector<core::Prefix>& nets, Cmp op) {
    if (nets.size() == 1)
        return saddr_in(nets[0].addr, nets[0].len, op);
    return addr_in("ip saddr", kSaddr, nets, op);
}

Term daddr_in(const std::vector<core::Prefix>& nets, Cmp op) {
    if (nets.size() == 1)
        return daddr_in(nets[0].addr, nets[0].len, op);
    return addr_in("ip daddr", kDaddr, nets, op);
}

Term quoted_daddr_in(const std::vector<core::Prefix>& nets) {
    if (nets.size() == 1)
        return quoted_daddr_in(nets[0].addr, nets[0].len);
    // A raw payload's set is of integers, listed in hex (its user data tells nft so).
    const std::vector<AddrRange> ranges = merged(nets);
    return {"@th,192,32 " + set_text(ranges, hex_range_text), [=](RuleContext& c) {
                addr_set_term(c, NFT_PAYLOAD_TRANSPORT_HEADER, kQuotedDaddr, ranges, Cmp::Eq, kTypeInteger,
                              detail::raw_th_userdata(8 * kQuotedDaddr, 32));
            }};
}

} // namespace conenat::io::nft
