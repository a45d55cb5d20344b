// Reads the kernel's nftables objects with NLM_F_DUMP requests and libnftnl's parsers, and
// keeps of each rule only what the check asks about (its queue, NAT and jump statements).
#include "conenat/io/nft_inspect.hpp"

#include "nft_batch.hpp"
#include "nft_objects.hpp"

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <cstring>
#include <string_view>

namespace conenat::io {

namespace {

const char* family_name(std::uint32_t f) {
    switch (f) {
    case NFPROTO_IPV4: return "ip";
    case NFPROTO_INET: return "inet";
    default: return "?";
    }
}

const char* hook_name(std::uint32_t h) {
    switch (h) {
    case NF_INET_PRE_ROUTING: return "prerouting";
    case NF_INET_LOCAL_IN: return "input";
    case NF_INET_FORWARD: return "forward";
    case NF_INET_LOCAL_OUT: return "output";
    case NF_INET_POST_ROUTING: return "postrouting";
    default: return "?";
    }
}

std::string str(const char* s) { return s ? s : ""; }

// Queues num .. num + total - 1 (a fanout), bounded.
void add_queues(NftRuleView& r, std::uint16_t num, std::uint16_t total) {
    for (std::uint32_t q = num; q < std::uint32_t(num) + std::max<std::uint16_t>(total, 1) && q <= 0xffff && r.queues.size() < 64; ++q)
        r.queues.push_back(std::uint16_t(q));
}

// An xt target's info struct (nft_compat): every NFQUEUE revision starts with the queue
// number (u16, host order); revisions 1+ follow it with the number of queues.
void xt_nfqueue(nftnl_expr* e, NftRuleView& r) {
    std::uint32_t len = 0;
    const auto* info = static_cast<const std::uint8_t*>(nftnl_expr_get(e, NFTNL_EXPR_TG_INFO, &len));
    if (!info || len < 2)
        return;
    std::uint16_t num = 0, total = 1;
    std::memcpy(&num, info, 2);
    if (nftnl_expr_get_u32(e, NFTNL_EXPR_TG_REV) >= 1 && len >= 4)
        std::memcpy(&total, info + 2, 2);
    add_queues(r, num, total);
}

NftRuleView rule_view(nftnl_rule* rule, std::uint32_t family) {
    NftRuleView r;
    r.family = family_name(family);
    r.table = str(nftnl_rule_get_str(rule, NFTNL_RULE_TABLE));
    r.chain = str(nftnl_rule_get_str(rule, NFTNL_RULE_CHAIN));
    r.handle = nftnl_rule_get_u64(rule, NFTNL_RULE_HANDLE);
    // `meta oifname` loads the name into a register, the next `cmp eq` compares it: remember
    // which register holds which key.
    std::uint32_t meta_reg = ~0u, meta_key = 0;
    nftnl_expr_iter* it = nftnl_expr_iter_create(rule);
    for (nftnl_expr* e = it ? nftnl_expr_iter_next(it) : nullptr; e; e = nftnl_expr_iter_next(it)) {
        const std::string name = str(nftnl_expr_get_str(e, NFTNL_EXPR_NAME));
        if (name == "counter") {
            r.packets += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
        } else if (name == "queue") {
            const std::uint16_t num = nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_NUM);
            const std::uint16_t total = nftnl_expr_is_set(e, NFTNL_EXPR_QUEUE_TOTAL) ? nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_TOTAL) : 1;
            add_queues(r, num, total);
        } else if (name == "masq") {
            r.source_nat = true, r.nat_text = "masquerade";
        } else if (name == "redir") {
            r.destination_nat = true, r.nat_text = "redirect";
        } else if (name == "nat") {
            const bool snat = nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_TYPE) == NFT_NAT_SNAT;
            (snat ? r.source_nat : r.destination_nat) = true;
            r.nat_text = snat ? "snat" : "dnat";
        } else if (name == "target") {
            const std::string tg = str(nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME));
            if (tg == "NFQUEUE") xt_nfqueue(e, r);
            if (tg == "MASQUERADE" || tg == "SNAT") r.source_nat = true, r.nat_text = "xt " + tg;
            if (tg == "DNAT" || tg == "REDIRECT") r.destination_nat = true, r.nat_text = "xt " + tg;
        } else if (name == "immediate") {
            if (nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN) && r.jumps.size() < 16)
                r.jumps.push_back(str(nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN)));
        } else if (name == "meta") {
            meta_key = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY);
            meta_reg = nftnl_expr_is_set(e, NFTNL_EXPR_META_DREG) ? nftnl_expr_get_u32(e, NFTNL_EXPR_META_DREG) : ~0u;
        } else if (name == "cmp") {
            if (nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG) == meta_reg && nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) == NFT_CMP_EQ &&
                (meta_key == NFT_META_OIFNAME || meta_key == NFT_META_IIFNAME)) {
                std::uint32_t len = 0;
                const auto* d = static_cast<const char*>(nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len));
                std::string ifname = d ? std::string(d, strnlen(d, len)) : "";
                (meta_key == NFT_META_OIFNAME ? r.oifname : r.iifname) = std::move(ifname);
            }
            meta_reg = ~0u;
        }
    }
    if (it) nftnl_expr_iter_destroy(it);
    return r;
}

} // namespace

Result<NftRuleset> read_ruleset() {
    auto sock = detail::NftSocket::open();
    if (!sock)
        return Error{sock.error()};
    NftRuleset rs;
    bool parse_failed = false;
    for (std::uint16_t family : {std::uint16_t(NFPROTO_IPV4), std::uint16_t(NFPROTO_INET)}) {
        auto nothing = [](nlmsghdr*) {};
        CONENAT_TRY(sock->dump(NFT_MSG_GETCHAIN, nothing, [&](const nlmsghdr* nlh) {
            detail::NftnlPtr<nftnl_chain> c(nftnl_chain_alloc());
            if (!c || nftnl_chain_nlmsg_parse(nlh, c.get()) < 0) return void(parse_failed = true);
            NftChainView v;
            v.family = family_name(nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_FAMILY));
            v.table = str(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE));
            v.name = str(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME));
            v.base = nftnl_chain_is_set(c.get(), NFTNL_CHAIN_HOOKNUM);
            if (v.base) {
                v.type = str(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TYPE));
                v.hook = hook_name(nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_HOOKNUM));
                v.priority = std::int32_t(nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_PRIO));
            }
            rs.chains.push_back(std::move(v));
        }, family));
        CONENAT_TRY(sock->dump(NFT_MSG_GETSET, [](nlmsghdr* nlh) {
            detail::NftnlPtr<nftnl_set> s(nftnl_set_alloc());
            nftnl_set_nlmsg_build_payload(nlh, s.get());
        }, [&](const nlmsghdr* nlh) {
            detail::NftnlPtr<nftnl_set> s(nftnl_set_alloc());
            if (!s || nftnl_set_nlmsg_parse(nlh, s.get()) < 0) return void(parse_failed = true);
            rs.sets.push_back({family_name(nftnl_set_get_u32(s.get(), NFTNL_SET_FAMILY)),
                               str(nftnl_set_get_str(s.get(), NFTNL_SET_TABLE)), str(nftnl_set_get_str(s.get(), NFTNL_SET_NAME))});
        }, family));
        CONENAT_TRY(sock->dump(NFT_MSG_GETRULE, nothing, [&](const nlmsghdr* nlh) {
            detail::NftnlPtr<nftnl_rule> r(nftnl_rule_alloc());
            if (!r || nftnl_rule_nlmsg_parse(nlh, r.get()) < 0) return void(parse_failed = true);
            rs.rules.push_back(rule_view(r.get(), nftnl_rule_get_u32(r.get(), NFTNL_RULE_FAMILY)));
        }, family));
    }
    if (parse_failed)
        return Error{"nftables: cannot parse an object of the rule set"};
    return rs;
}

} // namespace conenat::io
