// Internal: the pieces both rule sets (nft_ruleset, nft_queue_ruleset) and both renderers
// share: byte helpers, table / set / chain / rule messages, the common matches, and text.
#pragma once

#include "conenat/core/nat/port_set.hpp"
#include "conenat/core/types.hpp"
#include "nft_batch.hpp"
#include "nft_rule_builder.hpp"

#include <linux/netfilter/nf_tables.h>

#include <cstdint>
#include <functional>
#include <span>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace conenat::io::detail {

constexpr std::uint32_t kReg = NFT_REG32_00; // the scratch register of every match
constexpr const char* kAnonSet = "__set%d"; // the kernel names anonymous sets itself

std::vector<std::uint8_t> be16(std::uint32_t v);
std::vector<std::uint8_t> be32(std::uint32_t v);
// The netmask of a prefix length (clamped to 32; 0 for 0).
std::uint32_t prefix_mask(unsigned prefix);

// ---- messages ----

// One table message (NEWTABLE / DELTABLE) for `table`.
void table_message(NftBatch& batch, std::uint16_t type, std::uint16_t flags, std::string what, const std::string& table);
// "add; delete; add": replaces the table whether or not it exists, in one transaction.
void replace_table(NftBatch& batch, const std::string& table);

struct SetElem {
    std::vector<std::uint8_t> key;
    bool interval_end = false;
    std::string chain; // verdict maps: goto this chain
};

struct SetSpec {
    std::string name;
    std::uint32_t flags = 0; // NFT_SET_*
    std::uint32_t key_type = 0, key_len = 0;
    std::uint32_t data_type = 0, data_len = 0; // maps (NFT_SET_MAP); data_len 0: not sent
};

// A set (NEWSET, then its elements in NEWSETELEM messages of at most 1000) with id `id`.
void add_set(NftBatch& batch, const std::string& table, std::uint32_t id, const SetSpec& set,
             const std::vector<SetElem>& elems);

struct BaseChain {
    std::string_view type; // "nat", "filter"
    std::uint32_t hook;    // NF_INET_*
    int priority;
};
// A chain; a base chain (with policy accept) when `base` is given.
void add_chain(NftBatch& batch, const std::string& table, const std::string& name,
               const std::optional<BaseChain>& base);
Status add_rule(NftBatch& batch, RuleBuilder& rule, std::string what);

// ---- matches (each leaves the scratch register free again) ----

// meta `meta_key` (IIFNAME / OIFNAME) `op` the interface `name`, an exact match.
void ifname_match(RuleBuilder& r, std::uint32_t meta_key, std::uint32_t op, const std::string& name,
                  std::uint32_t reg = kReg);
// The interface name `name` as nft compares it (IFNAMSIZ, zero-padded).
std::vector<std::uint8_t> ifname_bytes(const std::string& name);
// The IPv4 address at `base` + `offset` is in net/prefix.
void prefix_match(RuleBuilder& r, std::uint32_t base, std::uint32_t offset, core::Ipv4 net, unsigned prefix);
// The packet's saddr (network header, offset 12) is in net/prefix; nothing for prefix 0.
void saddr_match(RuleBuilder& r, core::Ipv4 net, unsigned prefix);
// The IPv4 address at network header + `offset` is in the set `set` (id in this batch).
void addr_in_set(RuleBuilder& r, std::uint32_t offset, const std::string& set, std::uint32_t set_id);
// (meta mark & mark) == value.
void mark_match(RuleBuilder& r, std::uint32_t mark, std::uint32_t value);
// ct `key` & bits, `op` 0 (host byte order).
void ct_bits(RuleBuilder& r, std::uint32_t key, std::uint32_t bits, std::uint32_t op);
// Interval-set elements of port ranges (merged, in any order): start keys, and end keys one
// past each range (an end element at 0 first, as nft writes it, when the first range does not
// start at 0).
std::vector<SetElem> port_intervals(std::vector<core::PortRange> ranges);
// meta l4proto == `proto`.
void l4proto_match(RuleBuilder& r, std::uint8_t proto);
// Adds an anonymous constant set of these 1-byte elements (key type `type`) to the batch; its id.
using AnonSet = std::function<std::uint32_t(std::uint32_t type, const std::vector<SetElem>& elems)>;
// meta l4proto { tcp, udp }
void tcp_or_udp_match(RuleBuilder& r, const AnonSet& anon);
// meta l4proto icmp, icmp type in `types` (one: a compare; more: an anonymous set).
void icmp_type_match(RuleBuilder& r, std::span<const std::uint8_t> types, const AnonSet& anon);

// ---- text (the renderers) ----

std::string ipv4_text(core::Ipv4 a);
std::string hex32_text(std::uint32_t v);
// "a.b.c.d/n" of the network (prefix clamped to 32).
std::string cidr_text(core::Ipv4 net, unsigned prefix);
// "a, b-c, ..." of inclusive ranges.
template <typename Ranges>
std::string ranges_text(const Ranges& ranges) {
    std::string s;
    for (const auto& r : ranges)
        s += std::string(s.empty() ? "" : ", ") + std::to_string(r.first) +
             (r.last != r.first ? "-" + std::to_string(r.last) : "");
    return s;
}
// The "set <name> { type ipv4_addr; elements = ... }" block.
void render_addr_set(std::ostream& out, std::string_view name, const std::vector<core::Ipv4>& addrs);

} // namespace conenat::io::detail
