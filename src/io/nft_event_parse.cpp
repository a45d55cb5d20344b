#include "nft_event_parse.hpp"

#include "netlink.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstring>

namespace conenat::io::detail {

namespace {

using Object = NftEvent::Object;

// NFT_MSG_DESTROY* (kernel >= 6.3) are not in Debian 12's uapi headers; the kernel notifies
// them as DEL*, but a newer one might not.
constexpr std::uint16_t kMsgDestroyTable = 26, kMsgDestroyFlowtable = 32;

struct Kind {
    Object object;
    bool deleted;
};

std::optional<Kind> kind_of(std::uint16_t msg) {
    switch (msg) {
    case NFT_MSG_NEWTABLE: return Kind{Object::Table, false};
    case NFT_MSG_DELTABLE: return Kind{Object::Table, true};
    case NFT_MSG_NEWCHAIN: return Kind{Object::Chain, false};
    case NFT_MSG_DELCHAIN: return Kind{Object::Chain, true};
    case NFT_MSG_NEWRULE: return Kind{Object::Rule, false};
    case NFT_MSG_DELRULE: return Kind{Object::Rule, true};
    case NFT_MSG_NEWSET: return Kind{Object::Set, false};
    case NFT_MSG_DELSET: return Kind{Object::Set, true};
    case NFT_MSG_NEWSETELEM: return Kind{Object::SetElement, false};
    case NFT_MSG_DELSETELEM: return Kind{Object::SetElement, true};
    case NFT_MSG_NEWGEN: return Kind{Object::Generation, false};
    case NFT_MSG_NEWOBJ: return Kind{Object::StatefulObject, false};
    case NFT_MSG_DELOBJ: return Kind{Object::StatefulObject, true};
    case NFT_MSG_NEWFLOWTABLE: return Kind{Object::Flowtable, false};
    case NFT_MSG_DELFLOWTABLE: return Kind{Object::Flowtable, true};
    default: break;
    }
    // DESTROYTABLE, CHAIN, RULE, SET, SETELEM, OBJ, FLOWTABLE in that order.
    static constexpr Object kDestroyed[] = {Object::Table, Object::Chain, Object::Rule, Object::Set,
                                            Object::SetElement, Object::StatefulObject, Object::Flowtable};
    if (msg >= kMsgDestroyTable && msg <= kMsgDestroyFlowtable)
        return Kind{kDestroyed[msg - kMsgDestroyTable], true};
    return std::nullopt;
}

// A string attribute's text up to its NUL (or its end: the kernel always terminates it, a
// hostile sender need not).
std::string text_of(const nlattr* attr) {
    const auto* p = static_cast<const char*>(mnl_attr_get_payload(attr));
    const std::size_t len = mnl_attr_get_payload_len(attr);
    return std::string(p, strnlen(p, len));
}

std::uint32_t be32_of(const nlattr* attr) {
    std::uint32_t v = 0;
    if (mnl_attr_get_payload_len(attr) >= sizeof v)
        std::memcpy(&v, mnl_attr_get_payload(attr), sizeof v);
    return ntohl(v);
}

} // namespace

std::optional<NftEvent> parse_nft_event(const nlmsghdr* nlh) {
    if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES || nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(nfgenmsg))
        return std::nullopt;
    const auto kind = kind_of(NFNL_MSG_TYPE(nlh->nlmsg_type));
    if (!kind)
        return std::nullopt;
    NftEvent ev;
    ev.object = kind->object;
    ev.deleted = kind->deleted;
    ev.family = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh))->nfgen_family;
    ev.portid = nlh->nlmsg_pid;
    // Attribute 1 names the table in every object message (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE,
    // NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE, NFTA_OBJ_TABLE,
    // NFTA_FLOWTABLE_TABLE); a generation has its id, the committer's pid and name instead.
    for_each_attr(nlh, sizeof(nfgenmsg), [&](const nlattr* attr) {
        const std::uint16_t type = mnl_attr_get_type(attr);
        if (ev.object != Object::Generation) {
            if (type == NFTA_TABLE_NAME)
                ev.table = text_of(attr);
        } else if (type == NFTA_GEN_ID) {
            ev.generation = be32_of(attr);
        } else if (type == NFTA_GEN_PROC_PID) {
            ev.proc_pid = be32_of(attr);
        } else if (type == NFTA_GEN_PROC_NAME) {
            ev.proc_name = text_of(attr);
        }
    });
    return ev;
}

} // namespace conenat::io::detail
