// A rule set written once: conenatd's nftables table as a description from which both its
// nft text (Nftables::render, as `nft list table` prints it) and its netlink messages
// (Nftables::install) come. Engines describe their tables with these types and the terms of
// nft_terms.hpp; nothing here needs libnftnl or the netfilter headers.
#pragma once

#include "conenat/core/types.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace conenat::io::nft {

class RuleContext; // the netlink side of a term (src/io): a rule being built in a batch

// One piece of a rule: its nft text and the expressions it adds.
struct Term {
    std::string text;
    std::function<void(RuleContext&)> build;
};
using Rule = std::vector<Term>; // the rule's text: its terms' texts, joined by spaces

// How a rule that queues reaches NFQUEUE: the nft queue statement, the xt NFQUEUE target
// (nft_compat, kernels without CONFIG_NFT_QUEUE), or not from this table: the table is then
// the text for such a kernel's `nft -f`, and an iptables script (examples/iptables-*.sh) adds
// the NFQUEUE rules, matching what the table leaves for it.
enum class Queueing : std::uint8_t { Native, Xt, Elsewhere };

enum class Hook : std::uint8_t { Prerouting, Input, Forward, Output, Postrouting };
struct BaseChain {
    std::string type; // "filter", "nat", "route"
    Hook hook;
    int priority;
};
struct Chain {
    std::string name;
    std::optional<BaseChain> base; // none: a regular chain (jumped to)
    std::vector<Rule> rules;
};

// A packet field of a concatenated map key (the port of ICMP is its echo identifier).
enum class Field : std::uint8_t { SrcAddr, SrcPort, DstAddr, DstPort };

// nft's data types of set keys and map data (a key is one type or a concatenation).
enum class Type : std::uint8_t { Ipv4Addr, InetService, Verdict, InetProto };

// A packet field a set's key or data is declared by (nft's `typeof`): nft then lists the set by
// these fields rather than by their types. An icmp id is an integer, which `type` cannot name,
// so a key holding one needs it for `nft -f` to accept the rules that use the map.
enum class Payload : std::uint8_t { IpSaddr, IpDaddr, IcmpId, ThDport };

// Keys [first, last] (last == first: one key); in a verdict map, `goto_chain` is the data.
struct Element {
    std::uint32_t first = 0, last = 0;
    std::string goto_chain;
};
struct Set {
    std::string name;
    std::vector<Type> key;  // concatenated when more than one
    std::vector<Type> data; // empty: a set; else a map
    bool interval = false;
    std::vector<Element> elements; // of a one-field key (maps of concatenations are filled later)
    std::vector<Payload> key_typeof, data_typeof; // non-empty: declared (and listed) by these fields
    // A set the packet path fills (`update @set`): elements time out; at most `size` of them.
    bool dynamic = false;
    std::uint32_t size = 0;
};

// The comment every table conenatd installs carries: how another instance's DNAT scan (and a
// reader of `nft list ruleset`) tells conenatd's tables from the user's.
inline constexpr const char* kOwnTableComment = "managed by conenatd";

struct RuleSet {
    std::string table;
    std::string comment; // the "# ..." lines before the table (without the "# "); not installed
    std::vector<Set> sets;
    std::vector<Chain> chains; // created in this order, then their rules
};

} // namespace conenat::io::nft
