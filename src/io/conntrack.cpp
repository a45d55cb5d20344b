// ConntrackEvents, dump_conntrack and the NAT deletes: ctnetlink over libmnl sockets, messages
// read and built with libnetfilter_conntrack (conntrack_parse.hpp).
#include "conenat/io/conntrack.hpp"

#include "conntrack_parse.hpp"
#include "netlink.hpp"

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace conenat::io {

namespace {
constexpr std::size_t kMaxBuffer = std::size_t(1) << 30;
// Per read() call at most this many datagrams: the fd stays readable for the next call.
constexpr std::size_t kMaxDatagrams = 1 << 16;

} // namespace

struct ConntrackEvents::Impl {
    detail::EventSocket events;
    std::size_t rcvbuf;
    detail::FlowParser parser; // one nf_conntrack object for every event
};

ConntrackEvents::ConntrackEvents(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
ConntrackEvents::ConntrackEvents(ConntrackEvents&&) noexcept = default;
ConntrackEvents& ConntrackEvents::operator=(ConntrackEvents&&) noexcept = default;
ConntrackEvents::~ConntrackEvents() = default;

Result<ConntrackEvents> ConntrackEvents::open(std::size_t rcvbuf) {
    rcvbuf = std::min(rcvbuf, kMaxBuffer);
    auto events = detail::EventSocket::open(
        {NETLINK_NETFILTER, {NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_DESTROY}, rcvbuf, std::size_t(MNL_SOCKET_BUFFER_SIZE),
         kMaxDatagrams, "conntrack events"},
        [](detail::NetlinkSocket& sock) {
            // Lets ctnetlink notice a failed DESTROY delivery and redeliver it (NEW is not retried).
            return sock.set_flag(SOL_NETLINK, NETLINK_BROADCAST_ERROR, 1, "conntrack events: NETLINK_BROADCAST_ERROR");
        });
    if (!events)
        return Error{events.error()};
    auto parser = detail::FlowParser::create();
    if (!parser)
        return Error{"conntrack events: out of memory for the libnetfilter_conntrack object"};
    return ConntrackEvents(std::make_unique<Impl>(Impl{std::move(events.value()), rcvbuf, std::move(*parser)}));
}

int ConntrackEvents::fd() const {
    return m_impl->events.socket().fd();
}

Result<ConntrackEvents::Read> ConntrackEvents::read(const FlowSink& sink) {
    auto lost = m_impl->events.drain([&](const nlmsghdr* nlh) {
        if (auto ev = m_impl->parser.parse(nlh))
            sink(*ev);
    });
    if (!lost)
        return Error{lost.error()};
    return *lost ? Read::Lost : Read::Drained;
}

std::size_t ConntrackEvents::grow_buffer() {
    const std::size_t next = std::min(m_impl->rcvbuf * 2, kMaxBuffer);
    if (next != m_impl->rcvbuf && m_impl->events.socket().force_rcvbuf(next))
        m_impl->rcvbuf = next;
    return m_impl->rcvbuf;
}

std::size_t ConntrackEvents::buffer_size() const {
    return m_impl->rcvbuf;
}

std::uint32_t ConntrackEvents::portid() const {
    return m_impl->events.socket().portid();
}

namespace {

// One IPv4 ctnetlink request on a fresh socket (ACKed; a dump ends at NLMSG_DONE).
struct CtRequest {
    std::vector<char> buf = std::vector<char>(std::max<std::size_t>(MNL_SOCKET_BUFFER_SIZE, 64 * 1024));
    nlmsghdr* nlh;

    CtRequest(std::uint16_t msg, std::uint16_t flags, std::uint32_t seq) {
        nlh = mnl_nlmsg_put_header(buf.data());
        nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg;
        nlh->nlmsg_flags = NLM_F_REQUEST | flags;
        nlh->nlmsg_seq = seq;
        auto* g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
        g->nfgen_family = AF_INET;
        g->version = NFNETLINK_V0;
        g->res_id = 0;
    }
};

Result<detail::NetlinkSocket> request_socket(const char* what) {
    auto sock = detail::NetlinkSocket::open();
    if (!sock)
        return Error{std::string(what) + ": " + sock.error()};
    CONENAT_TRY(sock->set_recv_timeout_ms(5000));
    return sock;
}

// Every message of an IPv4 conntrack dump, on `sock`.
Status dump_messages(const detail::NetlinkSocket& sock, const std::function<void(const nlmsghdr*)>& on_message) {
    CtRequest req(IPCTNL_MSG_CT_GET, NLM_F_DUMP, static_cast<std::uint32_t>(time(nullptr)));
    // The dump filter carries the layer-3 family (the kernel skips other families).
    if (nfct_filter_dump* filter = nfct_filter_dump_create()) {
        nfct_filter_dump_set_attr_u8(filter, NFCT_FILTER_DUMP_L3NUM, AF_INET);
        nfct_nlmsg_build_filter(req.nlh, filter);
        nfct_filter_dump_destroy(filter);
    }
    return detail::netlink_request(sock.fd(), sock.portid(), req.nlh, "conntrack dump", req.buf, on_message);
}

// Deletes the dumped entries that `match` selects, each by its identity (original tuple, zone, id).
Result<std::size_t> delete_matching(const std::function<bool(const FlowEvent&)>& match) {
    static constexpr const char* kDelete = "conntrack delete";
    auto sock = request_socket(kDelete);
    if (!sock)
        return Error{sock.error()};
    auto parser = detail::FlowParser::create();
    if (!parser)
        return Error{std::string(kDelete) + ": out of memory"};
    // Collected first, deleted after: the socket answers one request at a time.
    std::vector<detail::NfctObject> doomed;
    bool short_of_memory = false;
    CONENAT_TRY(dump_messages(*sock, [&](const nlmsghdr* m) {
        if (auto ev = parser->parse(m); ev && match(*ev)) {
            if (auto key = detail::delete_key(parser->entry()))
                doomed.push_back(std::move(key));
            else
                short_of_memory = true;
        }
    }));
    if (short_of_memory)
        return Error{std::string(kDelete) + ": out of memory"};
    std::size_t deleted = 0;
    std::uint32_t seq = static_cast<std::uint32_t>(time(nullptr));
    for (const auto& key : doomed) {
        CtRequest req(IPCTNL_MSG_CT_DELETE, NLM_F_ACK, ++seq);
        if (!detail::build_delete(req.nlh, *key))
            return Error{std::string(kDelete) + ": libnetfilter_conntrack could not build the request"};
        const Status s = detail::netlink_request(sock->fd(), sock->portid(), req.nlh, kDelete, req.buf);
        if (s.ok())
            ++deleted;
        else if (s.error().rfind(kDelete + std::string(": ") + std::strerror(ENOENT), 0) != 0)
            return Error{s.error()}; // ENOENT: it ended (or was replaced) meanwhile
    }
    return deleted;
}

// An entry whose source NAT chose `ext`: the reply comes back to it, and it is not where the
// flow came from (the router's own flows keep their source).
bool nat_to(const FlowEvent& ev, core::Ipv4 ext) {
    return ev.reply.dst.addr == ext && ev.orig.src.addr != ext;
}

} // namespace

Status dump_conntrack(const FlowSink& sink) {
    auto sock = request_socket("conntrack dump");
    if (!sock)
        return Error{sock.error()};
    auto parser = detail::FlowParser::create();
    if (!parser)
        return Error{"conntrack dump: out of memory"};
    return dump_messages(*sock, [&](const nlmsghdr* m) {
        if (auto ev = parser->parse(m))
            sink(*ev);
    });
}

Result<std::size_t> delete_conntrack_nat(core::Ipv4 external) {
    return delete_matching([&](const FlowEvent& ev) { return nat_to(ev, external); });
}

Result<std::size_t> delete_conntrack_nat(core::Proto proto, core::Endpoint external) {
    return delete_matching([&](const FlowEvent& ev) {
        return ev.reply.proto == proto && nat_to(ev, external.addr) && ev.reply.dst.port == external.port;
    });
}

} // namespace conenat::io
