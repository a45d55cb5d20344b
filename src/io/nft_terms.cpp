// The terms of nft_terms.hpp: each one's text and the expressions it builds.
#include "conenat/io/nft_terms.hpp"

#include "nft_context.hpp"
#include "nft_layout.hpp"
#include "nft_typeof.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

namespace conenat::io::nft {

namespace {

using detail::be16;
using detail::be32;
using detail::kAnonSet;
using detail::kReg;
using detail::SetElem;

// Offsets in an ICMP error, from the ICMP header: the quoted IPv4 header at 8 (its first byte,
// 0x45 when it has no options; protocol at 17; destination at 24), its transport header at 28
// (ports 28 / 30, or an echo's identifier at 32).
constexpr std::uint32_t kQuotedVersionIhl = 8, kQuotedProto = 17, kQuotedDaddr = 24, kQuotedSport = 28,
                        kQuotedEchoId = 32;

std::uint32_t op_of(Cmp op) { return op == Cmp::Eq ? NFT_CMP_EQ : NFT_CMP_NEQ; }
std::string op_text(Cmp op) { return op == Cmp::Eq ? "" : "!= "; }
std::string hex_text(std::uint32_t v) {
    char buf[12];
    std::snprintf(buf, sizeof buf, "%#x", v);
    return buf;
}
std::string quoted(const std::string& name) { return "\"" + name + "\""; }

const char* proto_text(Proto4 p) {
    return p == Proto4::Udp ? "udp" : p == Proto4::Tcp ? "tcp" : "icmp";
}

std::string icmp_type_text(std::uint8_t t) {
    switch (t) {
    case 0: return "echo-reply";
    case 3: return "destination-unreachable";
    case 8: return "echo-request";
    case 11: return "time-exceeded";
    case 12: return "parameter-problem";
    }
    return std::to_string(t);
}

// "a" or "{ a, b }" as nft prints a value or an anonymous set.
template <typename T, typename F>
std::string one_or_set(const T& values, F text) {
    std::string s;
    for (const auto& v : values)
        s += (s.empty() ? "" : ", ") + text(v);
    return values.size() == 1 ? s : "{ " + s + " }";
}

// Port ranges merged and in order (as nft lists a set of them).
std::vector<core::PortRange> merged_ranges(std::vector<core::PortRange> ranges) {
    std::sort(ranges.begin(), ranges.end(), [](auto& a, auto& b) { return a.first < b.first; });
    std::vector<core::PortRange> merged;
    for (const auto& r : ranges) {
        if (r.first > r.last)
            continue;
        if (!merged.empty() && std::uint32_t(r.first) <= std::uint32_t(merged.back().last) + 1)
            merged.back().last = std::max(merged.back().last, r.last);
        else
            merged.push_back(r);
    }
    return merged;
}

// "{ a-b, c }", or "a-b" / "a" for one range: nft itself loads a one-element set as a
// comparison (and lists it so), which the terms build alike (port_match).
std::string ports_text(const std::vector<core::PortRange>& ports) {
    const std::string s = detail::ranges_text(merged_ranges(ports));
    return merged_ranges(ports).size() == 1 ? s : "{ " + s + " }";
}

// The interface name `name` as nft compares it (IFNAMSIZ, zero-padded).
std::vector<std::uint8_t> ifname_bytes(const std::string& name) {
    std::vector<std::uint8_t> bytes(16, 0); // IFNAMSIZ, zero-padded: an exact match
    std::memcpy(bytes.data(), name.data(), std::min<std::size_t>(name.size(), 15));
    return bytes;
}

// meta `meta_key` (IIFNAME / OIFNAME) `op` the interface `name`, an exact match.
void ifname_term(RuleContext& c, std::uint32_t meta_key, std::uint32_t op, const std::string& name) {
    c.rule().meta(meta_key, kReg).cmp(kReg, op, ifname_bytes(name));
}

// The IPv4 address at network header + `offset` is in the named set `set`.
void addr_in_set_term(RuleContext& c, std::uint32_t offset, const std::string& set) {
    c.rule().payload(NFT_PAYLOAD_NETWORK_HEADER, offset, 4, kReg).lookup(kReg, set, c.set_id(set));
}

// Interval-set elements of merged port ranges: start keys, and end keys one past each range
// (an end element at 0 first, as nft writes it, when the first range does not start at 0).
std::vector<SetElem> port_intervals(const std::vector<core::PortRange>& merged) {
    std::vector<SetElem> elems;
    if (!merged.empty() && merged.front().first > 0)
        elems.push_back({be16(0), true, {}});
    for (const auto& r : merged) {
        elems.push_back({be16(r.first), false, {}});
        if (r.last < 0xffff)
            elems.push_back({be16(static_cast<std::uint16_t>(r.last + 1)), true, {}});
    }
    return elems;
}

void prefix_term(RuleContext& c, std::uint32_t base, std::uint32_t offset, core::Ipv4 net, unsigned prefix, Cmp op) {
    const std::uint32_t mask = core::Prefix::mask_of(prefix);
    c.rule().payload(base, offset, 4, kReg);
    if (mask != 0xffffffffu)
        c.rule().mask(kReg, be32(mask));
    c.rule().cmp(kReg, op_of(op), be32(net & mask));
}

// The 2-byte value at transport header + `offset` is in `ranges`: a lookup in an interval set
// of them, or for one range the comparisons nft makes of it (eq; gte and lte). `raw`: a raw
// payload (@th,...), whose set nft types as such.
void port_match(RuleContext& c, std::uint32_t offset, const std::vector<core::PortRange>& ranges, bool raw = false) {
    constexpr std::uint32_t kTypeInteger = 4, kTypeInetService = 13;
    const std::vector<core::PortRange> merged = merged_ranges(ranges);
    c.rule().payload(NFT_PAYLOAD_TRANSPORT_HEADER, offset, 2, kReg);
    if (merged.size() != 1) {
        c.rule().lookup(kReg, kAnonSet,
                        raw ? c.anon(NFT_SET_INTERVAL, kTypeInteger, 2, port_intervals(merged),
                                     detail::raw_th_userdata(8 * offset, 16))
                            : c.anon(NFT_SET_INTERVAL, kTypeInetService, 2, port_intervals(merged)));
    } else if (merged[0].first == merged[0].last) {
        c.rule().cmp(kReg, NFT_CMP_EQ, be16(merged[0].first));
    } else {
        c.rule().cmp(kReg, NFT_CMP_GTE, be16(merged[0].first));
        c.rule().cmp(kReg, NFT_CMP_LTE, be16(merged[0].last));
    }
}

void mark_term(RuleContext& c, std::uint32_t mark, std::uint32_t value) {
    std::uint8_t mask[4];
    std::memcpy(mask, &mark, 4); // meta mark is host byte order
    c.rule().meta(NFT_META_MARK, kReg).mask(kReg, mask).cmp_u32(kReg, NFT_CMP_EQ, value);
}

void ct_term(RuleContext& c, std::uint32_t key, std::uint32_t bits, std::uint32_t op) {
    std::uint8_t mask[4];
    std::memcpy(mask, &bits, 4); // ct status and state are host byte order
    c.rule().ct(key, kReg).mask(kReg, mask).cmp_u32(kReg, op, 0);
}

// The protocol byte in the scratch register is one of `protos` (one: a compare; more: an
// anonymous set of nft type `set_type`).
void proto_in(RuleContext& c, const std::vector<Proto4>& protos, std::uint32_t set_type,
              const std::vector<std::uint8_t>& userdata = {}) {
    if (protos.size() == 1) {
        c.rule().cmp_u8(kReg, NFT_CMP_EQ, std::uint8_t(protos[0]));
        return;
    }
    std::vector<SetElem> elems;
    for (Proto4 p : protos)
        elems.push_back({{std::uint8_t(p)}, false, {}});
    c.rule().lookup(kReg, kAnonSet, c.anon(0, set_type, 1, elems, userdata));
}

void l4proto_build(RuleContext& c, const std::vector<Proto4>& protos) {
    constexpr std::uint32_t kTypeInetProto = 12;
    c.rule().meta(NFT_META_L4PROTO, kReg);
    proto_in(c, protos, kTypeInetProto);
}

} // namespace

Term iifname(const std::string& name, Cmp op) {
    return {"iifname " + op_text(op) + quoted(name),
            [=](RuleContext& c) { ifname_term(c, NFT_META_IIFNAME, op_of(op), name); }};
}

Term oifname(const std::string& name) {
    return {"oifname " + quoted(name),
            [=](RuleContext& c) { ifname_term(c, NFT_META_OIFNAME, NFT_CMP_EQ, name); }};
}

namespace {
// nft lists a /32 as the address alone.
std::string prefix_text(core::Ipv4 net, unsigned prefix) {
    return prefix >= 32 ? detail::ipv4_text(net) : detail::cidr_text(net, prefix);
}
} // namespace

Term saddr_in(core::Ipv4 net, unsigned prefix, Cmp op) {
    return {"ip saddr " + op_text(op) + prefix_text(net, prefix),
            [=](RuleContext& c) { prefix_term(c, NFT_PAYLOAD_NETWORK_HEADER, 12, net, prefix, op); }};
}

Term daddr_in(core::Ipv4 net, unsigned prefix, Cmp op) {
    return {"ip daddr " + op_text(op) + prefix_text(net, prefix),
            [=](RuleContext& c) { prefix_term(c, NFT_PAYLOAD_NETWORK_HEADER, 16, net, prefix, op); }};
}

Term saddr_in_set(const std::string& set) {
    return {"ip saddr @" + set,
            [=](RuleContext& c) { addr_in_set_term(c, 12, set); }};
}

Term daddr_in_set(const std::string& set) {
    return {"ip daddr @" + set,
            [=](RuleContext& c) { addr_in_set_term(c, 16, set); }};
}

Term fragment() {
    return {"ip frag-off & 16383 != 0", [](RuleContext& c) {
                c.rule().payload(NFT_PAYLOAD_NETWORK_HEADER, 6, 2, kReg).mask(kReg, be16(0x3fff));
                c.rule().cmp(kReg, NFT_CMP_NEQ, be16(0));
            }};
}

Term local_socket() {
    return {"socket transparent <= 1", [](RuleContext& c) {
                c.rule().socket(NFT_SOCKET_TRANSPARENT, kReg).cmp_u8(kReg, NFT_CMP_LTE, 1);
            }};
}

Term l4proto(std::initializer_list<Proto4> protos) {
    std::vector<Proto4> ps(protos);
    std::sort(ps.begin(), ps.end()); // as nft lists a set
    return {"meta l4proto " + one_or_set(ps, [](Proto4 p) { return std::string(proto_text(p)); }),
            [ps](RuleContext& c) { l4proto_build(c, ps); }};
}

Term dport_in(Proto4 proto, const std::vector<core::PortRange>& ports) {
    return {std::string(proto_text(proto)) + " dport " + ports_text(ports), [=](RuleContext& c) {
                l4proto_build(c, {proto});
                port_match(c, 2, ports);
            }};
}

Term sport_in(Proto4 proto, const std::vector<core::PortRange>& ports) {
    return {std::string(proto_text(proto)) + " sport " + ports_text(ports), [=](RuleContext& c) {
                l4proto_build(c, {proto});
                port_match(c, 0, ports);
            }};
}

Term th_dport_in(const std::vector<core::PortRange>& ports) {
    return {"th dport " + ports_text(ports), [=](RuleContext& c) { port_match(c, 2, ports); }};
}

Term icmp_type(std::initializer_list<std::uint8_t> types) {
    std::vector<std::uint8_t> ts(types);
    return {"icmp type " + one_or_set(ts, icmp_type_text),
            [ts](RuleContext& c) {
                constexpr std::uint32_t kTypeIcmpType = 14;
                l4proto_build(c, {Proto4::Icmp});
                c.rule().payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, kReg);
                if (ts.size() == 1) {
                    c.rule().cmp_u8(kReg, NFT_CMP_EQ, ts[0]);
                    return;
                }
                std::vector<SetElem> elems;
                for (std::uint8_t type : ts)
                    elems.push_back({{type}, false, {}});
                c.rule().lookup(kReg, kAnonSet, c.anon(0, kTypeIcmpType, 1, elems));
            }};
}

Term icmp_id_in(const std::vector<core::PortRange>& ids) {
    return {"icmp id " + ports_text(ids), [=](RuleContext& c) { port_match(c, 4, ids); }};
}

Term fib_daddr_oif(const std::string& name) {
    return {"fib daddr oifname " + quoted(name), [=](RuleContext& c) {
                c.rule().fib(NFTA_FIB_F_DADDR, NFT_FIB_RESULT_OIFNAME, kReg)
                    .cmp(kReg, NFT_CMP_EQ, ifname_bytes(name));
            }};
}

Term mark_has(std::uint32_t mark) {
    return {"meta mark & " + detail::hex32_text(mark) + " == " + detail::hex32_text(mark),
            [=](RuleContext& c) { mark_term(c, mark, mark); }};
}

Term mark_lacks(std::uint32_t mark) {
    return {"meta mark & " + detail::hex32_text(mark) + " == 0x00000000",
            [=](RuleContext& c) { mark_term(c, mark, 0); }};
}

Term ct_status_dnat() {
    return {"ct status dnat", [](RuleContext& c) { ct_term(c, NFT_CT_STATUS, IPS_DST_NAT, NFT_CMP_NEQ); }};
}

Term ct_status_no_dnat() {
    return {"ct status ! dnat", [](RuleContext& c) { ct_term(c, NFT_CT_STATUS, IPS_DST_NAT, NFT_CMP_EQ); }};
}

Term ct_status_no_snat() {
    return {"ct status ! snat", [](RuleContext& c) { ct_term(c, NFT_CT_STATUS, IPS_SRC_NAT, NFT_CMP_EQ); }};
}

Term ct_untracked() {
    return {"ct state untracked",
            [](RuleContext& c) { ct_term(c, NFT_CT_STATE, NF_CT_STATE_UNTRACKED_BIT, NFT_CMP_NEQ); }};
}

Term ct_state_new() {
    return {"ct state new", [](RuleContext& c) { ct_term(c, NFT_CT_STATE, NF_CT_STATE_BIT(IP_CT_NEW), NFT_CMP_NEQ); }};
}

Term ct_status_no_nat() {
    return {"ct status ! snat,dnat",
            [](RuleContext& c) { ct_term(c, NFT_CT_STATUS, IPS_SRC_NAT | IPS_DST_NAT, NFT_CMP_EQ); }};
}

Term ct_original() {
    return {"ct direction original",
            [](RuleContext& c) { c.rule().ct(NFT_CT_DIRECTION, kReg).cmp_u8(kReg, NFT_CMP_EQ, IP_CT_DIR_ORIGINAL); }};
}

Term ct_reply() {
    return {"ct direction reply",
            [](RuleContext& c) { c.rule().ct(NFT_CT_DIRECTION, kReg).cmp_u8(kReg, NFT_CMP_EQ, IP_CT_DIR_REPLY); }};
}

namespace {
// The flow's five fields, each in its own 32-bit register slot from NFT_REG32_00 (the layout
// of a concatenated key): source address, protocol, source port, destination address and port
// (`reversed`: destination first).
std::string flow_text(bool reversed, const std::string& l4 = "th") {
    const std::string s = "ip saddr", d = "ip daddr", sp = l4 + " sport", dp = l4 + " dport";
    return reversed ? d + " . meta l4proto . " + dp + " . " + s + " . " + sp
                    : s + " . meta l4proto . " + sp + " . " + d + " . " + dp;
}
// As nft lists a timeout: "3h", "5m", "1h30m".
std::string duration_text(std::uint32_t s) {
    std::string t;
    for (auto [unit, n] : {std::pair{"d", 86400u}, {"h", 3600u}, {"m", 60u}, {"s", 1u}})
        if (s >= n) {
            t += std::to_string(s / n) + unit;
            s %= n;
        }
    return t.empty() ? "0s" : t;
}
void load_flow(RuleContext& c, bool reversed) {
    constexpr std::uint32_t kSaddr = 12, kDaddr = 16, kSport = 0, kDport = 2;
    c.rule()
        .payload(NFT_PAYLOAD_NETWORK_HEADER, reversed ? kDaddr : kSaddr, 4, NFT_REG32_00)
        .meta(NFT_META_L4PROTO, NFT_REG32_01)
        .payload(NFT_PAYLOAD_TRANSPORT_HEADER, reversed ? kDport : kSport, 2, NFT_REG32_02)
        .payload(NFT_PAYLOAD_NETWORK_HEADER, reversed ? kSaddr : kDaddr, 4, NFT_REG32_03)
        .payload(NFT_PAYLOAD_TRANSPORT_HEADER, reversed ? kSport : kDport, 2, NFT_REG32_04);
}
} // namespace

Term flow_in_set(const std::string& set, bool reversed) {
    return {flow_text(reversed) + " @" + set, [=](RuleContext& c) {
                load_flow(c, reversed);
                c.rule().lookup(NFT_REG32_00, set, c.set_id(set));
            }};
}

Term update_flow(const std::string& set, bool reversed, Proto4 proto, std::uint32_t timeout_s) {
    const std::string l4 = proto == Proto4::Tcp ? "tcp" : "udp";
    return {"update @" + set + " { " + flow_text(reversed, l4) + " timeout " + duration_text(timeout_s) + " }",
            [=](RuleContext& c) {
                l4proto_build(c, {proto});
                load_flow(c, reversed);
                c.rule().dynset_update(NFT_REG32_00, set, c.set_id(set), std::uint64_t(timeout_s) * 1000);
            }};
}

Term quoted_header_plain() {
    return {"@th,64,8 0x45", [](RuleContext& c) {
                c.rule().payload(NFT_PAYLOAD_TRANSPORT_HEADER, kQuotedVersionIhl, 1, kReg).cmp_u8(kReg, NFT_CMP_EQ, 0x45);
            }};
}

Term quoted_proto(std::initializer_list<Proto4> protos) {
    std::vector<Proto4> ps(protos);
    // A raw payload's values are integers (nft type 4), listed in hex: a set of them is what
    // nft -f makes of this text.
    constexpr std::uint32_t kTypeInteger = 4;
    return {"@th,136,8 " + one_or_set(ps, [](Proto4 p) { return hex_text(unsigned(p)); }),
            [ps](RuleContext& c) {
                c.rule().payload(NFT_PAYLOAD_TRANSPORT_HEADER, kQuotedProto, 1, kReg);
                proto_in(c, ps, kTypeInteger, detail::raw_th_userdata(8 * kQuotedProto, 8));
            }};
}

Term quoted_daddr_in(core::Ipv4 net, unsigned prefix) {
    // nft cannot parse a prefix as the value of a raw payload match: mask and value in hex.
    const std::uint32_t mask = core::Prefix::mask_of(prefix);
    return {"@th,192,32 & " + hex_text(mask) + " == " + hex_text(net & mask),
            [=](RuleContext& c) {
                prefix_term(c, NFT_PAYLOAD_TRANSPORT_HEADER, kQuotedDaddr, net, prefix, Cmp::Eq);
            }};
}

namespace {
struct Load {
    const char* text;
    std::uint32_t base, offset, len;
    bool low_byte;
};
constexpr Load kLoads[] = {
        {"th dport", NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, false},
        {"icmp id", NFT_PAYLOAD_TRANSPORT_HEADER, 4, 2, false},
        {"@th,224,16", NFT_PAYLOAD_TRANSPORT_HEADER, kQuotedSport, 2, false},
        {"@th,256,16", NFT_PAYLOAD_TRANSPORT_HEADER, kQuotedEchoId, 2, false},
        {"ip saddr", NFT_PAYLOAD_NETWORK_HEADER, 12, 4, false},
        {"ip saddr & 0.0.0.255", NFT_PAYLOAD_NETWORK_HEADER, 12, 4, true},
        {"@th,192,32", NFT_PAYLOAD_TRANSPORT_HEADER, kQuotedDaddr, 4, false},
        {"@th,192,32 & 0xff", NFT_PAYLOAD_TRANSPORT_HEADER, kQuotedDaddr, 4, true},
};
} // namespace

Term key_in(Key key, const std::vector<core::PortRange>& ports) {
    const Load& l = kLoads[std::size_t(key)];
    // nft lists a raw payload's values in hex.
    const bool raw = l.text[0] == '@';
    std::string values;
    for (const core::PortRange& r : merged_ranges(ports)) {
        auto text = [raw](std::uint32_t v) {
            char hex[16];
            std::snprintf(hex, sizeof hex, "0x%x", v);
            return raw ? std::string(hex) : std::to_string(v);
        };
        values += (values.empty() ? "" : ", ") + text(r.first) + (r.last != r.first ? "-" + text(r.last) : "");
    }
    if (merged_ranges(ports).size() != 1)
        values = "{ " + values + " }";
    return {std::string(l.text) + " " + values, [l, ports, raw](RuleContext& c) { port_match(c, l.offset, ports, raw); }};
}

Term vmap(Key key, const std::string& map) {
    const Load& l = kLoads[std::size_t(key)];
    return {std::string(l.text) + " vmap @" + map, [l, map](RuleContext& c) {
                c.rule().payload(l.base, l.offset, l.len, kReg);
                if (l.low_byte)
                    c.rule().mask(kReg, be32(0xff));
                c.rule().lookup(kReg, map, c.set_id(map), NFT_REG_VERDICT);
            }};
}

Term counter() {
    return {"counter packets 0 bytes 0", [](RuleContext& c) { c.rule().counter(); }};
}

Term notrack() {
    return {"notrack", [](RuleContext& c) { c.rule().notrack(); }};
}

Term accept() {
    return {"accept", [](RuleContext& c) { c.rule().verdict(NF_ACCEPT); }};
}

Term drop() {
    return {"drop", [](RuleContext& c) { c.rule().verdict(NF_DROP); }};
}

Term goto_chain(const std::string& chain) {
    return {"goto " + chain, [=](RuleContext& c) { c.rule().verdict(NFT_GOTO, chain); }};
}

Term mark_set_bits(std::uint32_t mark) {
    return {"meta mark set meta mark | " + detail::hex32_text(mark), [=](RuleContext& c) {
                // The mark register holds the host-order u32: mask and xor in the same byte order.
                std::array<std::uint8_t, 4> keep{}, bit{};
                const std::uint32_t not_mark = ~mark;
                std::memcpy(keep.data(), &not_mark, 4);
                std::memcpy(bit.data(), &mark, 4);
                c.rule().meta(NFT_META_MARK, kReg).bitwise(kReg, keep, bit).meta_set(NFT_META_MARK, kReg);
            }};
}

namespace {
static_assert(IPCT_NEW == 0 && IPCT_DESTROY == 2 && IPCT_LABEL == 10); // the order of the names below
// As nft lists an event mask: the names of its bits in order, or the number when none is named.
std::string ct_events_text(std::uint32_t events) {
    static constexpr const char* kNames[] = {"new",       "related",   "destroy", "reply",     "assured", "protoinfo",
                                             "helper",    "mark",      "seqadj",  "secmark", "label"};
    std::string s;
    for (std::uint32_t bit = 0; bit < std::size(kNames); ++bit)
        if (events & (1u << bit))
            s += (s.empty() ? "" : ",") + std::string(kNames[bit]);
    if (!s.empty() && !(events >> std::size(kNames)))
        return s;
    char hex[12];
    std::snprintf(hex, sizeof hex, "0x%x", events); // nft: "0x0", not printf's "%#x" "0"
    return hex;
}
} // namespace

Term ct_event_set(std::uint32_t events) {
    return {"ct event set " + ct_events_text(events), [=](RuleContext& c) {
                std::uint8_t bytes[4];
                std::memcpy(bytes, &events, 4); // the event mask is host byte order
                c.rule().immediate(kReg, bytes).ct_set(NFT_CT_EVENTMASK, kReg);
            }};
}

Term queue(std::uint16_t num, bool native, bool bypass) {
    return {"queue num " + std::to_string(num) + (bypass ? " bypass" : ""),
            [=](RuleContext& c) { c.rule().queue(num, native, bypass); }};
}

namespace {
// Loads the key fields into consecutive 32-bit registers, looks the map up into the same
// registers (address, then port) and NATs to that endpoint.
// `dependency`: match the protocol first (nft does not print it: the key's port implies it).
Term nat_map(const char* what, std::uint32_t type, Proto4 proto, const std::vector<Field>& key, const std::string& map,
             bool dependency) {
    const auto p = core::Proto(proto);
    std::string fields;
    for (Field f : key)
        fields += (fields.empty() ? "" : " . ") + std::string(detail::expr_name(f, p));
    return {std::string(what) + " ip to " + fields + " map @" + map, [=](RuleContext& c) {
                if (dependency)
                    l4proto_build(c, {proto});
                std::uint32_t reg = NFT_REG32_00;
                for (Field f : key) {
                    const detail::PayloadRef ref = detail::payload_of(f, p);
                    c.rule().payload(ref.base, ref.offset, ref.len, reg++);
                }
                c.rule().lookup(NFT_REG32_00, map, std::nullopt, NFT_REG32_00).nat(type, NFT_REG32_00, NFT_REG32_01);
            }};
}
} // namespace

Term dnat_map(Proto4 proto, const std::vector<Field>& key, const std::string& map) {
    return nat_map("dnat", NFT_NAT_DNAT, proto, key, map, false);
}

Term snat_map(Proto4 proto, const std::vector<Field>& key, const std::string& map) {
    return nat_map("snat", NFT_NAT_SNAT, proto, key, map, proto != Proto4::Icmp);
}

namespace {
// Loads the endpoint into two registers (address, port) and NATs to it.
Term nat_to(const char* what, std::uint32_t type, core::Endpoint to) {
    return {std::string(what) + " to " + detail::ipv4_text(to.addr) + ":" + std::to_string(to.port),
            [=](RuleContext& c) {
                c.rule().immediate(NFT_REG32_00, be32(to.addr)).immediate(NFT_REG32_01, be16(to.port));
                c.rule().nat(type, NFT_REG32_00, NFT_REG32_01);
            }};
}
} // namespace

Term dnat_to(core::Endpoint to) { return nat_to("dnat", NFT_NAT_DNAT, to); }

Term snat_to(core::Endpoint to) { return nat_to("snat", NFT_NAT_SNAT, to); }

} // namespace conenat::io::nft
