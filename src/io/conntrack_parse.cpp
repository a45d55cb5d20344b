#include "conntrack_parse.hpp"

#include "netlink.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

namespace conenat::io::detail {

namespace {

template <int Max>
struct Attrs {
    const nlattr* tb[Max + 1] = {};
    static int collect(const nlattr* attr, void* data) {
        const int type = mnl_attr_get_type(attr);
        if (type >= 0 && type <= Max)
            static_cast<Attrs*>(data)->tb[type] = attr;
        return MNL_CB_OK;
    }
    bool parse_nested(const nlattr* nest) { return mnl_attr_parse_nested(nest, collect, this) >= 0; }
    const nlattr* operator[](int type) const { return tb[type]; }
};

bool get_u16(const nlattr* a, std::uint16_t& out) {
    if (!a || mnl_attr_validate(a, MNL_TYPE_U16) < 0)
        return false;
    out = ntohs(mnl_attr_get_u16(a));
    return true;
}

bool get_u32(const nlattr* a, std::uint32_t& out) {
    if (!a || mnl_attr_validate(a, MNL_TYPE_U32) < 0)
        return false;
    out = ntohl(mnl_attr_get_u32(a));
    return true;
}

bool parse_tuple(const nlattr* nest, FlowTuple& t) {
    if (!nest || mnl_attr_validate(nest, MNL_TYPE_NESTED) < 0)
        return false;
    Attrs<CTA_TUPLE_MAX> tuple;
    if (!tuple.parse_nested(nest) || !tuple[CTA_TUPLE_IP] || !tuple[CTA_TUPLE_PROTO])
        return false;
    Attrs<CTA_IP_MAX> ip;
    Attrs<CTA_PROTO_MAX> proto;
    if (mnl_attr_validate(tuple[CTA_TUPLE_IP], MNL_TYPE_NESTED) < 0 || !ip.parse_nested(tuple[CTA_TUPLE_IP]) ||
        mnl_attr_validate(tuple[CTA_TUPLE_PROTO], MNL_TYPE_NESTED) < 0 || !proto.parse_nested(tuple[CTA_TUPLE_PROTO]))
        return false;
    if (!get_u32(ip[CTA_IP_V4_SRC], t.src.addr) || !get_u32(ip[CTA_IP_V4_DST], t.dst.addr))
        return false;
    const nlattr* num = proto[CTA_PROTO_NUM];
    if (!num || mnl_attr_validate(num, MNL_TYPE_U8) < 0)
        return false;
    switch (mnl_attr_get_u8(num)) {
    case IPPROTO_UDP:
    case IPPROTO_TCP:
        t.proto = mnl_attr_get_u8(num) == IPPROTO_UDP ? core::Proto::Udp : core::Proto::Tcp;
        return get_u16(proto[CTA_PROTO_SRC_PORT], t.src.port) && get_u16(proto[CTA_PROTO_DST_PORT], t.dst.port);
    case IPPROTO_ICMP:
        t.proto = core::Proto::Icmp;
        if (!get_u16(proto[CTA_PROTO_ICMP_ID], t.src.port))
            return false;
        t.dst.port = t.src.port;
        return true;
    default:
        return false;
    }
}

} // namespace

std::optional<FlowEvent> parse_flow_event(const nlmsghdr* nlh) {
    if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK ||
        nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(nfgenmsg)))
        return std::nullopt;
    FlowEvent ev;
    switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
    case IPCTNL_MSG_CT_NEW: ev.type = FlowEvent::New; break;
    case IPCTNL_MSG_CT_DELETE: ev.type = FlowEvent::Destroy; break;
    default: return std::nullopt;
    }
    const auto* g = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
    if (g->nfgen_family != AF_INET)
        return std::nullopt;
    Attrs<CTA_MAX> top;
    if (mnl_attr_parse(nlh, sizeof(nfgenmsg), Attrs<CTA_MAX>::collect, &top) < 0)
        return std::nullopt;
    if (!parse_tuple(top[CTA_TUPLE_ORIG], ev.orig) || !parse_tuple(top[CTA_TUPLE_REPLY], ev.reply))
        return std::nullopt;
    get_u32(top[CTA_STATUS], ev.status); // absent: 0
    ev.portid = nlh->nlmsg_pid;
    return ev;
}

std::vector<std::uint8_t> entry_identity(const nlmsghdr* nlh) {
    std::vector<std::uint8_t> out;
    if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK ||
        nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(nfgenmsg)))
        return out;
    bool tuple = false;
    for_each_attr(nlh, sizeof(nfgenmsg), [&](const nlattr* attr) {
        const int type = mnl_attr_get_type(attr);
        if (type == CTA_TUPLE_ORIG || type == CTA_ZONE || type == CTA_ID) {
            tuple |= type == CTA_TUPLE_ORIG;
            const auto* bytes = reinterpret_cast<const std::uint8_t*>(attr);
            out.insert(out.end(), bytes, bytes + attr->nla_len);
            out.resize(MNL_ALIGN(out.size()), 0);
        }
    });
    if (!tuple)
        out.clear();
    return out;
}

} // namespace conenat::io::detail
