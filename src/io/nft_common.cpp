#include "nft_common.hpp"

#include "nft_objects.hpp"

#include "conenat/io/nft_rules.hpp"

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

namespace conenat::io::detail {

namespace {
constexpr std::size_t kElementsPerMessage = 1000; // the elements nest length is a u16
} // namespace

std::vector<std::uint8_t> be16(std::uint32_t v) {
    return {std::uint8_t(v >> 8), std::uint8_t(v)};
}

std::vector<std::uint8_t> be32(std::uint32_t v) {
    return {std::uint8_t(v >> 24), std::uint8_t(v >> 16), std::uint8_t(v >> 8), std::uint8_t(v)};
}

void table_message(NftBatch& batch, std::uint16_t type, std::uint16_t flags, std::string what,
                   const std::string& table, std::string_view comment) {
    batch.add(type, flags, std::move(what), [&](nlmsghdr* nlh) {
        NftnlPtr<nftnl_table> t(nftnl_table_alloc());
        nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
        NftnlPtr<nftnl_udata_buf> buf;
        if (!comment.empty()) { // as nft writes `comment "..."`: one NUL-terminated string
            buf.reset(nftnl_udata_buf_alloc(256));
            nftnl_udata_put(buf.get(), NFTNL_UDATA_TABLE_COMMENT, static_cast<std::uint32_t>(comment.size() + 1),
                            std::string(comment).c_str());
            nftnl_table_set_data(t.get(), NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(buf.get()),
                                 nftnl_udata_buf_len(buf.get()));
        }
        nftnl_table_nlmsg_build_payload(nlh, t.get());
    });
}

void replace_table(NftBatch& batch, const std::string& table) {
    const std::string what = "table " + table;
    table_message(batch, NFT_MSG_NEWTABLE, NLM_F_CREATE, what, table);
    table_message(batch, NFT_MSG_DELTABLE, 0, "delete " + what, table);
    table_message(batch, NFT_MSG_NEWTABLE, NLM_F_CREATE, what, table, nft::kOwnTableComment);
}

void add_set(NftBatch& batch, const std::string& table, std::uint32_t id, const SetSpec& set,
             const std::vector<SetElem>& elems) {
    NftnlPtr<nftnl_set> s(nftnl_set_alloc());
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
    nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.name.c_str());
    nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, NFPROTO_IPV4);
    nftnl_set_set_u32(s.get(), NFTNL_SET_ID, id);
    nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, set.flags);
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, set.key_type);
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, set.key_len);
    if (set.flags & NFT_SET_MAP) {
        nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, set.data_type);
        if (set.data_len) // verdict maps: the kernel sizes it itself
            nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, set.data_len);
    }
    if (!set.userdata.empty())
        nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, set.userdata.data(), static_cast<std::uint32_t>(set.userdata.size()));
    if (set.flags & NFT_SET_CONSTANT)
        nftnl_set_set_u32(s.get(), NFTNL_SET_DESC_SIZE, static_cast<std::uint32_t>(elems.size()));
    else if (set.size)
        nftnl_set_set_u32(s.get(), NFTNL_SET_DESC_SIZE, set.size);
    const std::string what =
        (set.flags & NFT_SET_ANONYMOUS) ? "anonymous set" : (set.flags & NFT_SET_MAP ? "map " : "set ") + set.name;
    batch.add(NFT_MSG_NEWSET, NLM_F_CREATE, what, [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, s.get()); });
    for (std::size_t first = 0; first < elems.size(); first += kElementsPerMessage) {
        NftnlPtr<nftnl_set> part(nftnl_set_alloc());
        nftnl_set_set_str(part.get(), NFTNL_SET_TABLE, table.c_str());
        nftnl_set_set_str(part.get(), NFTNL_SET_NAME, set.name.c_str());
        nftnl_set_set_u32(part.get(), NFTNL_SET_ID, id);
        nftnl_set_set_u32(part.get(), NFTNL_SET_FAMILY, NFPROTO_IPV4);
        const std::size_t last = std::min(elems.size(), first + kElementsPerMessage);
        for (std::size_t i = first; i < last; ++i) {
            const SetElem& e = elems[i];
            nftnl_set_elem* el = nftnl_set_elem_alloc();
            nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, e.key.data(), static_cast<std::uint32_t>(e.key.size()));
            if (e.interval_end)
                nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
            else if (!e.chain.empty()) {
                nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_VERDICT, static_cast<std::uint32_t>(NFT_GOTO));
                nftnl_set_elem_set_str(el, NFTNL_SET_ELEM_CHAIN, e.chain.c_str());
            }
            nftnl_set_elem_add(part.get(), el); // the set owns it
        }
        batch.add(NFT_MSG_NEWSETELEM, NLM_F_CREATE, "elements of " + what,
                  [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, part.get()); });
    }
}

void add_chain(NftBatch& batch, const std::string& table, const std::string& name,
               const std::optional<BaseChain>& base) {
    NftnlPtr<nftnl_chain> ch(nftnl_chain_alloc());
    nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TABLE, table.c_str());
    nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_NAME, name.c_str());
    if (base) {
        nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TYPE, std::string(base->type).c_str());
        nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_HOOKNUM, base->hook);
        nftnl_chain_set_s32(ch.get(), NFTNL_CHAIN_PRIO, base->priority);
        nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
    }
    batch.add(NFT_MSG_NEWCHAIN, NLM_F_CREATE, "chain " + name,
              [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, ch.get()); });
}

Status add_rule(NftBatch& batch, RuleBuilder& rule, std::string what) {
    if (!rule.ok())
        return Error{"nftables: out of memory building " + what};
    batch.add(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, std::move(what),
              [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, rule.get()); });
    return {};
}

std::string ipv4_text(core::Ipv4 a) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
    return buf;
}

std::string hex32_text(std::uint32_t v) {
    char buf[12];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
}

std::string cidr_text(core::Ipv4 net, unsigned prefix) {
    prefix = std::min(prefix, 32u);
    return ipv4_text(net & core::Prefix::mask_of(prefix)) + "/" + std::to_string(prefix);
}

} // namespace conenat::io::detail
