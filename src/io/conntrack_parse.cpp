#include "conntrack_parse.hpp"

#include "netlink.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include <cstring>

namespace conenat::io::detail {

namespace {

// libnetfilter_conntrack's parser ends the process — exit(1) after "ctnetlink kernel ABI is
// broken" (__abi_breakage, its src/main.c) — on an attribute of the wrong size. These checks are
// the ones it makes (mnl_attr_validate: exact sizes; a nest empty or holding attributes), over
// libmnl's walk (mnl_attr_ok, mnl_attr_next) written inline: the events thread runs them on
// every event, and libmnl's callbacks cost as much as the library's own parse.
using AttrCheck = bool (*)(const nlattr*);

std::size_t payload_len(const nlattr* a) {
    return a->nla_len - NLA_HDRLEN;
}
int type_of(const nlattr* a) {
    return a->nla_type & NLA_TYPE_MASK;
}

// `check` on each attribute of a nest; true where libmnl's walk ends (an attribute that does not
// fit ends it, for the library too), false when `check` refuses one or `a` is no nest.
bool nested(const nlattr* a, AttrCheck check) {
    std::size_t left = payload_len(a);
    if (left != 0 && left < NLA_HDRLEN)
        return false;
    const auto* p = reinterpret_cast<const std::uint8_t*>(a) + NLA_HDRLEN;
    while (left >= sizeof(nlattr)) {
        const auto* child = reinterpret_cast<const nlattr*>(p);
        if (child->nla_len < sizeof(nlattr) || child->nla_len > left)
            return true;
        if (!check(child))
            return false;
        const std::size_t step = NLA_ALIGN(child->nla_len);
        if (step >= left)
            return true;
        p += step;
        left -= step;
    }
    return true;
}

bool ip_attr_ok(const nlattr* a) {
    switch (type_of(a)) {
    case CTA_IP_V4_SRC:
    case CTA_IP_V4_DST: return payload_len(a) == 4;
    case CTA_IP_V6_SRC:
    case CTA_IP_V6_DST: return payload_len(a) == 16;
    default: return true;
    }
}

bool proto_attr_ok(const nlattr* a) {
    switch (type_of(a)) {
    case CTA_PROTO_SRC_PORT:
    case CTA_PROTO_DST_PORT:
    case CTA_PROTO_ICMP_ID:
    case CTA_PROTO_ICMPV6_ID: return payload_len(a) == 2;
    case CTA_PROTO_NUM:
    case CTA_PROTO_ICMP_TYPE:
    case CTA_PROTO_ICMP_CODE:
    case CTA_PROTO_ICMPV6_TYPE:
    case CTA_PROTO_ICMPV6_CODE: return payload_len(a) == 1;
    default: return true;
    }
}

bool tuple_attr_ok(const nlattr* a) {
    switch (type_of(a)) {
    case CTA_TUPLE_IP: return nested(a, ip_attr_ok);
    case CTA_TUPLE_PROTO: return nested(a, proto_attr_ok);
    case CTA_TUPLE_ZONE: return payload_len(a) == 2;
    default: return true;
    }
}

// Of the top-level attributes, the ones we read: valid (1), malformed (-1), or not ours (0).
// The others are dropped, among them CTA_HELP, CTA_SECCTX and CTA_LABELS, for which the
// library allocates.
int kept_attr(const nlattr* a) {
    switch (type_of(a)) {
    case CTA_TUPLE_ORIG:
    case CTA_TUPLE_REPLY: return nested(a, tuple_attr_ok) ? 1 : -1;
    case CTA_STATUS:
    case CTA_ID: return payload_len(a) == 4 ? 1 : -1;
    case CTA_ZONE: return payload_len(a) == 2 ? 1 : -1;
    default: return 0;
    }
}

// The last attribute of one type (the library, too, keeps the last of each).
struct Last {
    int type;
    const nlattr* found = nullptr;
};
int keep_last(const nlattr* a, void* data) {
    auto* last = static_cast<Last*>(data);
    if (mnl_attr_get_type(a) == last->type)
        last->found = a;
    return MNL_CB_OK;
}
const nlattr* last_nested(const nlattr* nest, int type) {
    Last last{type};
    return mnl_attr_parse_nested(nest, keep_last, &last) >= 0 ? last.found : nullptr;
}

// The reply tuple's ICMP identifier, by hand: the library parses it into the reply tuple but
// has no attribute that returns it (ATTR_ICMP_ID is the original tuple's, and is set by either).
std::optional<std::uint16_t> reply_icmp_id(const nlmsghdr* kept) {
    Last reply{CTA_TUPLE_REPLY};
    if (mnl_attr_parse(kept, sizeof(nfgenmsg), keep_last, &reply) < 0 || !reply.found)
        return std::nullopt;
    const nlattr* proto = last_nested(reply.found, CTA_TUPLE_PROTO);
    const nlattr* id = proto ? last_nested(proto, CTA_PROTO_ICMP_ID) : nullptr;
    if (!id)
        return std::nullopt;
    return ntohs(mnl_attr_get_u16(id)); // checked: a u16 (tuple_attr_ok)
}

struct TupleAttrs {
    nf_conntrack_attr l4proto, src, dst, sport, dport;
};
constexpr TupleAttrs kOrig{ATTR_ORIG_L4PROTO, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV4_DST, ATTR_ORIG_PORT_SRC,
                           ATTR_ORIG_PORT_DST};
constexpr TupleAttrs kReply{ATTR_REPL_L4PROTO, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV4_DST, ATTR_REPL_PORT_SRC,
                            ATTR_REPL_PORT_DST};

// One direction of the entry; for ICMP only the protocol and the addresses (the caller sets the identifier).
bool read_tuple(const nf_conntrack* ct, const TupleAttrs& at, FlowTuple& t) {
    if (!nfct_attr_is_set(ct, at.l4proto) || !nfct_attr_is_set(ct, at.src) || !nfct_attr_is_set(ct, at.dst))
        return false;
    t.src.addr = ntohl(nfct_get_attr_u32(ct, at.src));
    t.dst.addr = ntohl(nfct_get_attr_u32(ct, at.dst));
    switch (nfct_get_attr_u8(ct, at.l4proto)) {
    case IPPROTO_UDP:
    case IPPROTO_TCP:
        t.proto = nfct_get_attr_u8(ct, at.l4proto) == IPPROTO_UDP ? core::Proto::Udp : core::Proto::Tcp;
        if (!nfct_attr_is_set(ct, at.sport) || !nfct_attr_is_set(ct, at.dport))
            return false;
        t.src.port = ntohs(nfct_get_attr_u16(ct, at.sport));
        t.dst.port = ntohs(nfct_get_attr_u16(ct, at.dport));
        return true;
    case IPPROTO_ICMP: t.proto = core::Proto::Icmp; return true;
    default: return false;
    }
}

} // namespace

void NfctDestroy::operator()(nf_conntrack* ct) const noexcept {
    nfct_destroy(ct);
}

std::optional<FlowParser> FlowParser::create() {
    NfctObject ct(nfct_new()), blank(nfct_new());
    if (!ct || !blank)
        return std::nullopt;
    return FlowParser(std::move(ct), std::move(blank));
}

// A copy of the message with only the attributes we read, each checked (nullptr: one is
// malformed, or they do not fit kMaxKept).
const nlmsghdr* FlowParser::keep_known(const nlmsghdr* nlh) {
    auto* out = reinterpret_cast<nlmsghdr*>(m_kept.data());
    const std::size_t head = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(nfgenmsg));
    std::memcpy(out, nlh, head);
    out->nlmsg_len = static_cast<std::uint32_t>(head);
    bool ok = true;
    for_each_attr(nlh, sizeof(nfgenmsg), [&](const nlattr* a) {
        const int kept = ok ? kept_attr(a) : 0;
        if (kept < 0 || (kept > 0 && out->nlmsg_len + MNL_ALIGN(a->nla_len) > m_kept.size()))
            ok = false;
        if (!ok || kept == 0)
            return;
        std::uint8_t* at = m_kept.data() + out->nlmsg_len;
        std::memcpy(at, a, a->nla_len);
        std::memset(at + a->nla_len, 0, MNL_ALIGN(a->nla_len) - a->nla_len);
        out->nlmsg_len += MNL_ALIGN(a->nla_len);
    });
    return ok ? out : nullptr;
}

std::optional<FlowEvent> FlowParser::parse(const nlmsghdr* nlh) {
    if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK ||
        nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(nfgenmsg)))
        return std::nullopt;
    FlowEvent ev;
    switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
    case IPCTNL_MSG_CT_NEW: ev.type = FlowEvent::New; break;
    case IPCTNL_MSG_CT_DELETE: ev.type = FlowEvent::Destroy; break;
    default: return std::nullopt;
    }
    if (static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh))->nfgen_family != AF_INET)
        return std::nullopt;
    const nlmsghdr* kept = keep_known(nlh);
    if (!kept)
        return std::nullopt;
    // The object is reused: cleared from the empty one (a memcpy; nothing of it was allocated).
    nfct_copy(m_ct.get(), m_blank.get(), NFCT_CP_OVERRIDE);
    if (nfct_nlmsg_parse(kept, m_ct.get()) < 0)
        return std::nullopt;
    if (!read_tuple(m_ct.get(), kOrig, ev.orig) || !read_tuple(m_ct.get(), kReply, ev.reply))
        return std::nullopt;
    if (ev.orig.proto == core::Proto::Icmp) {
        if (!nfct_attr_is_set(m_ct.get(), ATTR_ICMP_ID))
            return std::nullopt;
        ev.orig.src.port = ev.orig.dst.port = ntohs(nfct_get_attr_u16(m_ct.get(), ATTR_ICMP_ID));
    }
    if (ev.reply.proto == core::Proto::Icmp) {
        const auto id = reply_icmp_id(kept);
        if (!id)
            return std::nullopt;
        ev.reply.src.port = ev.reply.dst.port = *id;
    }
    if (nfct_attr_is_set(m_ct.get(), ATTR_STATUS))
        ev.status = nfct_get_attr_u32(m_ct.get(), ATTR_STATUS); // absent: 0
    ev.portid = nlh->nlmsg_pid;
    return ev;
}

NfctObject delete_key(const nf_conntrack& entry) {
    NfctObject key(nfct_new());
    if (!key)
        return key;
    nfct_copy(key.get(), &entry, NFCT_CP_ORIG); // the original tuple (ICMP: type, code, id)
    for (const nf_conntrack_attr a : {ATTR_ORIG_ZONE, ATTR_ZONE, ATTR_ID})
        nfct_copy_attr(key.get(), &entry, a); // each only when the entry has it
    return key;
}

bool build_delete(nlmsghdr* nlh, const nf_conntrack& key) {
    if (nfct_nlmsg_build(nlh, &key) < 0)
        return false;
    // The library's builder writes no CTA_ID (it builds what userspace creates or updates, where
    // the id is the kernel's to choose): the id is added here.
    if (nfct_attr_is_set(&key, ATTR_ID))
        mnl_attr_put_u32(nlh, CTA_ID, htonl(nfct_get_attr_u32(&key, ATTR_ID)));
    return true;
}

} // namespace conenat::io::detail
