// Rtnetlink: links, IPv4 policy rules and routes over NETLINK_ROUTE (libmnl), every request ACKed.
#include "conenat/io/rtnetlink.hpp"

#include "conenat/io/fd.hpp"

#include "netlink.hpp"
#include "rtnetlink_parse.hpp"

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

namespace conenat::io {

namespace {

constexpr std::size_t kRequestSize = 512;   // the largest request here is ~100 bytes
constexpr std::size_t kReceiveSize = 65536; // a dump datagram is at most 32 KiB
constexpr int kAnswerTimeoutMs = 5000;      // the kernel answers rtnetlink synchronously

std::string hex(std::uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%x", v);
    return buf;
}

std::string table_text(std::uint32_t table) {
    switch (table) {
    case kLocalTable: return "local";
    case kMainTable: return "main";
    case RT_TABLE_DEFAULT: return "default";
    default: return std::to_string(table);
    }
}

// As `ip rule` shows it: "pref 50 fwmark 0x100000/0x100000 lookup 100".
std::string rule_text(const PolicyRule& r) {
    std::string s = "pref " + std::to_string(r.pref);
    if (r.fwmark != 0 || r.fwmask != 0)
        s += " fwmark " + hex(r.fwmark) + "/" + hex(r.fwmask);
    return s + " lookup " + table_text(r.table);
}

std::string dev_text(unsigned ifindex) {
    char name[IF_NAMESIZE] = {};
    if (if_indextoname(ifindex, name))
        return name;
    return "ifindex " + std::to_string(ifindex);
}

std::vector<std::uint8_t> new_message(std::uint16_t type, std::uint16_t flags) {
    std::vector<std::uint8_t> msg(kRequestSize, 0);
    nlmsghdr* nlh = mnl_nlmsg_put_header(msg.data());
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
    return msg;
}

nlmsghdr* header(std::vector<std::uint8_t>& msg) {
    return reinterpret_cast<nlmsghdr*>(msg.data());
}

template <typename Hdr>
Hdr* put_family_header(std::vector<std::uint8_t>& msg) {
    return static_cast<Hdr*>(mnl_nlmsg_put_extra_header(header(msg), sizeof(Hdr)));
}

// The family header of a received message, or nullptr when the message is too short for it.
template <typename Hdr>
const Hdr* family_header(const nlmsghdr* nlh) {
    return nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(Hdr) ? static_cast<const Hdr*>(mnl_nlmsg_get_payload(nlh)) : nullptr;
}

bool read_u32(const nlattr* attr, std::uint32_t& out) {
    if (mnl_attr_get_payload_len(attr) < sizeof(std::uint32_t))
        return false;
    std::memcpy(&out, mnl_attr_get_payload(attr), sizeof out);
    return true;
}

// The rule message body shared by RTM_NEWRULE and RTM_DELRULE.
void put_rule(std::vector<std::uint8_t>& msg, const PolicyRule& r) {
    auto* frh = put_family_header<fib_rule_hdr>(msg);
    frh->family = AF_INET;
    frh->table = r.table < 256 ? static_cast<std::uint8_t>(r.table) : std::uint8_t{RT_TABLE_UNSPEC};
    frh->action = FR_ACT_TO_TBL;
    nlmsghdr* nlh = header(msg);
    mnl_attr_put_u32(nlh, FRA_PRIORITY, r.pref);
    mnl_attr_put_u32(nlh, FRA_TABLE, r.table);
    // Both or neither: FRA_FWMARK alone would get the mask 0xffffffff from the kernel.
    if (r.fwmark != 0 || r.fwmask != 0) {
        mnl_attr_put_u32(nlh, FRA_FWMARK, r.fwmark);
        mnl_attr_put_u32(nlh, FRA_FWMASK, r.fwmask);
    }
}

// The route message body shared by RTM_NEWROUTE and RTM_DELROUTE.
void put_default_route(std::vector<std::uint8_t>& msg, std::uint32_t table, unsigned ifindex) {
    auto* rtm = put_family_header<rtmsg>(msg);
    rtm->rtm_family = AF_INET;
    rtm->rtm_dst_len = 0;
    rtm->rtm_table = table < 256 ? static_cast<std::uint8_t>(table) : std::uint8_t{RT_TABLE_UNSPEC};
    rtm->rtm_protocol = RTPROT_STATIC;
    rtm->rtm_scope = RT_SCOPE_LINK;
    rtm->rtm_type = RTN_UNICAST;
    nlmsghdr* nlh = header(msg);
    mnl_attr_put_u32(nlh, RTA_TABLE, table);
    mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
}

} // namespace

namespace detail {

void parse_rule(const nlmsghdr* nlh, std::vector<Rtnetlink::ListedRule>& out) {
    const auto* frh = family_header<fib_rule_hdr>(nlh);
    if (nlh->nlmsg_type != RTM_NEWRULE || !frh || frh->family != AF_INET)
        return;
    Rtnetlink::ListedRule listed;
    PolicyRule& r = listed.rule;
    r.table = frh->table;
    bool other = frh->src_len != 0 || frh->dst_len != 0 || frh->tos != 0 || frh->action != FR_ACT_TO_TBL ||
                 (frh->flags & FIB_RULE_INVERT) != 0;
    bool have_mark = false, have_mask = false;
    detail::for_each_attr(nlh, sizeof(fib_rule_hdr), [&](const nlattr* attr) {
        switch (mnl_attr_get_type(attr)) {
        case FRA_PRIORITY: other |= !read_u32(attr, r.pref); break;
        case FRA_TABLE: other |= !read_u32(attr, r.table); break;
        case FRA_FWMARK: have_mark = read_u32(attr, r.fwmark); other |= !have_mark; break;
        case FRA_FWMASK: have_mask = read_u32(attr, r.fwmask); other |= !have_mask; break;
        case FRA_SUPPRESS_PREFIXLEN: // always sent; -1 when not set
        case FRA_SUPPRESS_IFGROUP: {
            std::uint32_t v = 0;
            other |= !read_u32(attr, v) || v != 0xffffffffu;
            break;
        }
        case FRA_PROTOCOL: // who added it: no selector
        case FRA_PAD: break;
        // from/to, iif/oif, goto, realms, tun_id, suppress_*, l3mdev, uidrange, ipproto,
        // ports, and whatever newer kernels add (dscp, flow label, port masks...).
        default: other = true; break;
        }
    });
    if (have_mark && !have_mask)
        r.fwmask = 0xffffffff; // the kernel's default mask for a mark
    listed.other_selectors = other;
    out.push_back(listed);
}

std::optional<LinkAnswer> parse_link(const nlmsghdr* nlh) {
    const auto* info = family_header<ifinfomsg>(nlh);
    if (nlh->nlmsg_type != RTM_NEWLINK || !info)
        return std::nullopt;
    LinkAnswer l;
    l.index = static_cast<unsigned>(info->ifi_index);
    detail::for_each_attr(nlh, sizeof(ifinfomsg), [&](const nlattr* attr) {
        if (mnl_attr_get_type(attr) == IFLA_MTU)
            read_u32(attr, l.mtu);
    });
    return l;
}

std::optional<AddressAnswer> parse_address(const nlmsghdr* nlh) {
    const auto* ifa = family_header<ifaddrmsg>(nlh);
    if ((nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_DELADDR) || !ifa || ifa->ifa_family != AF_INET)
        return std::nullopt;
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on a point-to-point
    // link (PPPoE) and the same as IFA_LOCAL otherwise.
    std::optional<std::uint32_t> local, address;
    detail::for_each_attr(nlh, sizeof(ifaddrmsg), [&](const nlattr* attr) {
        std::uint32_t v = 0;
        if (!read_u32(attr, v))
            return;
        if (mnl_attr_get_type(attr) == IFA_LOCAL)
            local = ntohl(v);
        else if (mnl_attr_get_type(attr) == IFA_ADDRESS)
            address = ntohl(v);
    });
    if (!local && !address)
        return std::nullopt;
    return AddressAnswer{ifa->ifa_index, local ? *local : *address, nlh->nlmsg_type == RTM_DELADDR};
}

std::optional<InterfaceEvent> parse_interface_event(const nlmsghdr* nlh) {
    using Kind = InterfaceEvent::Kind;
    if (nlh->nlmsg_type == RTM_NEWLINK || nlh->nlmsg_type == RTM_DELLINK) {
        const auto* info = family_header<ifinfomsg>(nlh);
        if (!info)
            return std::nullopt;
        return InterfaceEvent{nlh->nlmsg_type == RTM_DELLINK ? Kind::LinkRemoved : Kind::LinkChanged,
                              static_cast<unsigned>(info->ifi_index), 0};
    }
    if (const auto a = parse_address(nlh))
        return InterfaceEvent{a->removed ? Kind::AddressRemoved : Kind::AddressAdded, a->index, a->local};
    return std::nullopt;
}

} // namespace detail

Result<Rtnetlink> Rtnetlink::open() {
    mnl_socket* nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nl)
        return detail::sys_error("rtnetlink socket");
    Rtnetlink rt(nl); // closes the socket on every error below
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
        return detail::sys_error("rtnetlink bind");
    rt.m_portid = mnl_socket_get_portid(nl);
    // Short ACKs (no echoed request) carrying the kernel's own explanation; both optional.
    int one = 1;
    mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof one);
    mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof one);
    timeval tv{kAnswerTimeoutMs / 1000, (kAnswerTimeoutMs % 1000) * 1000};
    if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
        return detail::sys_error("rtnetlink SO_RCVTIMEO");
    return rt;
}

Rtnetlink::Rtnetlink(mnl_socket* nl) : m_nl(nl) {}

Rtnetlink::Rtnetlink(Rtnetlink&& other) noexcept
    : m_nl(std::exchange(other.m_nl, nullptr)), m_seq(other.m_seq), m_portid(other.m_portid) {}

Rtnetlink& Rtnetlink::operator=(Rtnetlink&& other) noexcept {
    if (this != &other) {
        if (m_nl)
            mnl_socket_close(m_nl);
        m_nl = std::exchange(other.m_nl, nullptr);
        m_seq = other.m_seq;
        m_portid = other.m_portid;
    }
    return *this;
}

Rtnetlink::~Rtnetlink() {
    if (m_nl)
        mnl_socket_close(m_nl);
}

Status Rtnetlink::request(std::vector<std::uint8_t>& msg, const std::string& what,
                          const std::function<void(const nlmsghdr*)>& reply) {
    nlmsghdr* req = header(msg);
    req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    req->nlmsg_seq = ++m_seq;
    std::vector<char> buf(kReceiveSize);
    return detail::netlink_request(mnl_socket_get_fd(m_nl), m_portid, req, what, buf, reply);
}

Result<Rtnetlink::Link> Rtnetlink::link(const std::string& ifname) {
    const std::string what = "link " + ifname;
    if (ifname.empty() || ifname.size() >= IFNAMSIZ)
        return Error{what + ": not an interface name"};
    auto msg = new_message(RTM_GETLINK, 0);
    auto* ifi = put_family_header<ifinfomsg>(msg);
    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(header(msg), IFLA_IFNAME, ifname.c_str());
    mnl_attr_put_u32(header(msg), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    std::optional<Link> found;
    CONENAT_TRY(request(msg, what, [&](const nlmsghdr* nlh) {
        if (const auto l = detail::parse_link(nlh))
            found = Link{l->index, l->mtu};
    }));
    if (!found)
        return Error{what + ": no link in the kernel's answer"};
    return *found;
}

Result<unsigned> Rtnetlink::ifindex(const std::string& ifname) {
    auto l = link(ifname);
    if (!l)
        return Error{l.error()};
    return l->index;
}

Result<unsigned> Rtnetlink::mtu(const std::string& ifname) {
    auto l = link(ifname);
    if (!l)
        return Error{l.error()};
    return l->mtu;
}

Result<std::vector<core::Ipv4>> Rtnetlink::ipv4_addresses(const std::string& ifname) {
    const std::string what = "addresses of " + ifname;
    if (ifname.empty() || ifname.size() >= IFNAMSIZ)
        return Error{what + ": not an interface name"};
    // By index, read now: a PPPoE link that went and came back under the same name has a new one.
    const unsigned index = if_nametoindex(ifname.c_str());
    if (index == 0) {
        if (errno == ENODEV || errno == ENXIO)
            return std::vector<core::Ipv4>{};
        return detail::sys_error(what + ": interface index");
    }
    auto msg = new_message(RTM_GETADDR, NLM_F_DUMP);
    put_family_header<ifaddrmsg>(msg)->ifa_family = AF_INET;
    std::vector<core::Ipv4> out;
    CONENAT_TRY(request(msg, what, [&](const nlmsghdr* nlh) {
        const auto a = detail::parse_address(nlh);
        if (a && !a->removed && a->index == index && std::find(out.begin(), out.end(), a->local) == out.end())
            out.push_back(a->local);
    }));
    return out;
}

Result<std::vector<core::Ipv4>> ipv4_addresses(const std::string& ifname) {
    auto rt = Rtnetlink::open();
    if (!rt)
        return Error{"addresses of " + ifname + ": " + rt.error()};
    return rt->ipv4_addresses(ifname);
}

Status Rtnetlink::set_link(const std::string& ifname, bool up, unsigned mtu, unsigned txqueuelen) {
    std::string what = "set link " + ifname + (up ? " up" : " down");
    if (mtu != 0)
        what += " mtu " + std::to_string(mtu);
    if (txqueuelen != 0)
        what += " txqueuelen " + std::to_string(txqueuelen);
    if (ifname.empty() || ifname.size() >= IFNAMSIZ)
        return Error{what + ": not an interface name"};
    // No NLM_F_CREATE: a missing link is ENODEV, never a new one.
    auto msg = new_message(RTM_NEWLINK, 0);
    auto* ifi = put_family_header<ifinfomsg>(msg);
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_flags = up ? IFF_UP : 0;
    ifi->ifi_change = IFF_UP;
    mnl_attr_put_strz(header(msg), IFLA_IFNAME, ifname.c_str());
    if (mtu != 0)
        mnl_attr_put_u32(header(msg), IFLA_MTU, mtu);
    if (txqueuelen != 0)
        mnl_attr_put_u32(header(msg), IFLA_TXQLEN, txqueuelen);
    return request(msg, what);
}

Result<std::vector<Rtnetlink::ListedRule>> Rtnetlink::rules() {
    auto msg = new_message(RTM_GETRULE, NLM_F_DUMP);
    put_family_header<fib_rule_hdr>(msg)->family = AF_INET;
    std::vector<ListedRule> out;
    CONENAT_TRY(request(msg, "list rules", [&](const nlmsghdr* nlh) { detail::parse_rule(nlh, out); }));
    std::stable_sort(out.begin(), out.end(),
                     [](const ListedRule& a, const ListedRule& b) { return a.rule.pref < b.rule.pref; });
    return out;
}

Status Rtnetlink::add_rule(const PolicyRule& r) {
    auto msg = new_message(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL);
    put_rule(msg, r);
    return request(msg, "add rule " + rule_text(r));
}

Status Rtnetlink::delete_rule(const PolicyRule& r) {
    auto msg = new_message(RTM_DELRULE, 0);
    put_rule(msg, r);
    return request(msg, "delete rule " + rule_text(r));
}

Status Rtnetlink::add_default_route(std::uint32_t table, unsigned ifindex) {
    auto msg = new_message(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
    put_default_route(msg, table, ifindex);
    return request(msg, "add route default dev " + dev_text(ifindex) + " table " + table_text(table));
}

Status Rtnetlink::delete_default_route(std::uint32_t table, unsigned ifindex) {
    auto msg = new_message(RTM_DELROUTE, 0);
    put_default_route(msg, table, ifindex);
    return request(msg, "delete route default dev " + dev_text(ifindex) + " table " + table_text(table));
}

} // namespace conenat::io
