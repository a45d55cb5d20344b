// Internal: the pieces the rule-set installer, the terms (nft_terms.cpp) and the renderer
// share: byte helpers, table / set / chain / rule messages, and text.
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

// ---- messages ----

// One table message (NEWTABLE / DELTABLE) for `table`.
// `comment`: the table's `comment "..."` (its user data); empty: none.
void table_message(NftBatch& batch, std::uint16_t type, std::uint16_t flags, std::string what, const std::string& table,
                   std::string_view comment = {});
// "add; delete; add": replaces the table whether or not it exists, in one transaction; the new
// table carries nft::kOwnTableComment.
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
    std::vector<std::uint8_t> userdata;        // NFTNL_SET_USERDATA (nft's typeof); empty: none
    std::uint32_t size = 0;                    // most elements (NFTNL_SET_DESC_SIZE); 0: not sent
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

// ---- text ----

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

} // namespace conenat::io::detail
