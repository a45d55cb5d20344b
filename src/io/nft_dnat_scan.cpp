// io::dnat_ports: a dump of the ip and inet rules, each read expression by expression, and the
// elements of the sets their port lookups name.
#include "conenat/io/nft_dnat_scan.hpp"

#include "nft_batch.hpp"
#include "nft_objects.hpp"

#include "conenat/io/nft_rules.hpp"

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>

namespace conenat::io {

namespace {

constexpr std::size_t kMaxRanges = 4096; // bounded: a ruleset with more forwards than this is cut

// NFT_REG_1..4 (16 bytes) alias NFT_REG32_00, 04, 08, 12.
std::uint32_t reg32(std::uint32_t reg) { return reg >= NFT_REG_1 && reg <= NFT_REG_4 ? NFT_REG32_00 + (reg - NFT_REG_1) * 4 : reg; }

std::optional<std::uint16_t> port_of(const nftnl_expr* e, std::uint16_t attr) {
    std::uint32_t len = 0;
    const void* data = nftnl_expr_get(e, attr, &len);
    if (!data || len != 2) return std::nullopt;
    const auto* b = static_cast<const std::uint8_t*>(data);
    return std::uint16_t(b[0] << 8 | b[1]);
}

// What one rule says: a DNAT, the ports its destination-port matches name, a set it looks up.
struct RuleReading {
    bool dnat = false;
    bool odd = false; // a port match this reading cannot follow (negated, masked, ...)
    std::vector<core::PortRange> ports;
    std::optional<std::uint16_t> at_least, at_most;
    std::vector<std::string> sets;
};

RuleReading read_rule(nftnl_rule* rule) {
    RuleReading r;
    std::map<std::uint32_t, bool> dport; // register -> holds the transport destination port
    nftnl_expr_iter* it = nftnl_expr_iter_create(rule);
    for (nftnl_expr* e = it ? nftnl_expr_iter_next(it) : nullptr; e; e = nftnl_expr_iter_next(it)) {
        const std::string_view name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
        auto holds_port = [&](std::uint16_t attr) {
            return nftnl_expr_is_set(e, attr) && dport[reg32(nftnl_expr_get_u32(e, attr))];
        };
        if (name == "payload" && nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_DREG)) {
            dport[reg32(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_DREG))] =
                nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE) == NFT_PAYLOAD_TRANSPORT_HEADER &&
                nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET) == 2 && nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN) == 2;
        } else if (name == "cmp" && holds_port(NFTNL_EXPR_CMP_SREG)) {
            const auto port = port_of(e, NFTNL_EXPR_CMP_DATA);
            const std::uint32_t op = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP);
            if (!port) r.odd = true;
            else if (op == NFT_CMP_EQ) r.ports.push_back({*port, *port});
            else if (op == NFT_CMP_GTE) r.at_least = *port;
            else if (op == NFT_CMP_LTE) r.at_most = *port;
            else r.odd = true;
        } else if (name == "range" && holds_port(NFTNL_EXPR_RANGE_SREG)) {
            const auto from = port_of(e, NFTNL_EXPR_RANGE_FROM_DATA), to = port_of(e, NFTNL_EXPR_RANGE_TO_DATA);
            if (from && to && nftnl_expr_get_u32(e, NFTNL_EXPR_RANGE_OP) == NFT_RANGE_EQ) r.ports.push_back({*from, *to});
            else r.odd = true;
        } else if (name == "lookup" && holds_port(NFTNL_EXPR_LOOKUP_SREG)) {
            if (nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS) && (nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) & NFT_LOOKUP_F_INV))
                r.odd = true;
            else r.sets.push_back(nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET));
        } else if (name == "nat") {
            r.dnat = r.dnat || nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_TYPE) == NFT_NAT_DNAT;
        } else if (name == "redir") { // a DNAT to the router itself
            r.dnat = true;
        } else if (name == "target") {
            const std::string_view target = nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME);
            r.dnat = r.dnat || target == "DNAT" || target == "REDIRECT";
        } else {
            // Anything else that writes a register replaces what it held.
            std::uint16_t dreg = 0;
            if (name == "meta") dreg = NFTNL_EXPR_META_DREG;
            else if (name == "ct") dreg = NFTNL_EXPR_CT_DREG;
            else if (name == "immediate") dreg = NFTNL_EXPR_IMM_DREG;
            else if (name == "bitwise") dreg = NFTNL_EXPR_BITWISE_DREG;
            else if (name == "lookup") dreg = NFTNL_EXPR_LOOKUP_DREG;
            if (dreg && nftnl_expr_is_set(e, dreg)) {
                const std::uint32_t reg = reg32(nftnl_expr_get_u32(e, dreg));
                if (name == "bitwise" && dport[reg]) r.odd = true; // a masked port
                dport[reg] = false;
            }
        }
    }
    if (it) nftnl_expr_iter_destroy(it);
    if (r.at_least || r.at_most) r.ports.push_back({r.at_least.value_or(0), r.at_most.value_or(65535)});
    return r;
}

// The ports of set `set` of `table`: single ports, or intervals (start, then end + 1 flagged).
Status set_ports(detail::NftSocket& sock, std::uint16_t family, const std::string& table, const std::string& set,
                 std::vector<core::PortRange>& out, bool& odd) {
    std::vector<std::pair<std::uint16_t, bool>> keys; // port, interval end
    auto fill = [&](nlmsghdr* nlh) {
        detail::NftnlPtr<nftnl_set> s(nftnl_set_alloc());
        nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
        nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.c_str());
        nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
    };
    auto on_message = [&](const nlmsghdr* nlh) {
        detail::NftnlPtr<nftnl_set> s(nftnl_set_alloc());
        if (!s || nftnl_set_elems_nlmsg_parse(nlh, s.get()) < 0) { odd = true; return; }
        nftnl_set_elems_iter* it = nftnl_set_elems_iter_create(s.get());
        for (nftnl_set_elem* e = it ? nftnl_set_elems_iter_next(it) : nullptr; e; e = nftnl_set_elems_iter_next(it)) {
            std::uint32_t len = 0;
            const auto* key = static_cast<const std::uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len));
            const bool end = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
                             (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END);
            if (!key || len != 2) { odd = true; continue; } // a concatenation: not a port set
            if (keys.size() < 2 * kMaxRanges) keys.push_back({std::uint16_t(key[0] << 8 | key[1]), end});
        }
        if (it) nftnl_set_elems_iter_destroy(it);
    };
    CONENAT_TRY(sock.dump(NFT_MSG_GETSETELEM, fill, on_message, family));
    const bool interval = std::any_of(keys.begin(), keys.end(), [](const auto& k) { return k.second; });
    std::sort(keys.begin(), keys.end());
    int open = -1; // the start of the interval being read
    for (const auto& [port, end] : keys) {
        if (!interval) out.push_back({port, port});
        else if (!end) open = port;
        else if (open >= 0 && port > 0) { out.push_back({std::uint16_t(open), std::uint16_t(port - 1)}); open = -1; }
    }
    if (open >= 0) out.push_back({std::uint16_t(open), 65535});
    return {};
}

// The comment of a table (nft's `comment "..."`), or "".
std::string table_comment(const nftnl_table* t) {
    std::uint32_t len = 0;
    const void* data = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &len);
    if (!data || len == 0) return {};
    std::string comment;
    nftnl_udata_parse(data, len, [](const nftnl_udata* attr, void* out) {
        const auto* bytes = static_cast<const char*>(nftnl_udata_get(attr));
        const std::uint32_t n = nftnl_udata_len(attr);
        if (nftnl_udata_type(attr) == NFTNL_UDATA_TABLE_COMMENT && n > 0)
            static_cast<std::string*>(out)->assign(bytes, strnlen(bytes, n));
        return 0;
    }, &comment);
    return comment;
}

// The ip tables another conenatd installed (they carry nft::kOwnTableComment): their DNAT maps
// are that instance's mappings, not the user's forwards.
Result<std::vector<std::string>> conenatd_tables(detail::NftSocket& sock) {
    std::vector<std::string> names;
    bool parse_failed = false;
    CONENAT_TRY(sock.dump(NFT_MSG_GETTABLE, [](nlmsghdr*) {}, [&](const nlmsghdr* nlh) {
        detail::NftnlPtr<nftnl_table> t(nftnl_table_alloc());
        if (!t || nftnl_table_nlmsg_parse(nlh, t.get()) < 0) { parse_failed = true; return; }
        if (table_comment(t.get()) == nft::kOwnTableComment) names.push_back(nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME));
    }, NFPROTO_IPV4));
    if (parse_failed) return Error{"nftables: cannot parse a table of the ruleset"};
    return names;
}

} // namespace

Result<DnatPorts> dnat_ports(const std::string& own_table) {
    auto sock = detail::NftSocket::open();
    if (!sock) return Error{sock.error()};
    auto skip = conenatd_tables(*sock);
    if (!skip) return Error{skip.error()};
    skip->push_back(own_table);
    DnatPorts result;
    for (std::uint16_t family : {std::uint16_t(NFPROTO_IPV4), std::uint16_t(NFPROTO_INET)}) {
        struct Found { std::string table, chain; RuleReading reading; };
        std::vector<Found> found;
        bool parse_failed = false;
        auto on_rule = [&](const nlmsghdr* nlh) {
            detail::NftnlPtr<nftnl_rule> r(nftnl_rule_alloc());
            if (!r || nftnl_rule_nlmsg_parse(nlh, r.get()) < 0) { parse_failed = true; return; }
            const std::string table = nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE);
            if (family == NFPROTO_IPV4 && std::find(skip->begin(), skip->end(), table) != skip->end()) return;
            RuleReading reading = read_rule(r.get());
            if (reading.dnat && found.size() < kMaxRanges)
                found.push_back({table, nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN), std::move(reading)});
        };
        CONENAT_TRY(sock->dump(NFT_MSG_GETRULE, [](nlmsghdr*) {}, on_rule, family));
        if (parse_failed) return Error{"nftables: cannot parse a rule of the ruleset"};
        for (Found& f : found) {
            for (const std::string& set : f.reading.sets)
                CONENAT_TRY(set_ports(*sock, family, f.table, set, f.reading.ports, f.reading.odd));
            const std::string where = std::string(family == NFPROTO_INET ? "inet " : "ip ") + f.table + "/" + f.chain;
            if (f.reading.odd) result.unknown.push_back(where + ": a destination-port match this scan cannot read");
            else if (f.reading.ports.empty()) result.unknown.push_back(where + ": no destination port (every port)");
            for (const core::PortRange& p : f.reading.ports)
                if (result.ports.size() < kMaxRanges) result.ports.push_back(p);
        }
    }
    return result;
}

} // namespace conenat::io
