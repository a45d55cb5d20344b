// ConntrackEvents and dump_conntrack: ctnetlink over libmnl (+ libnetfilter_conntrack's dump filter).
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
#include <vector>

namespace conenat::io {

namespace {
constexpr std::size_t kMaxBuffer = std::size_t(1) << 30;
// Per read() call at most this many datagrams: the fd stays readable for the next call.
constexpr std::size_t kMaxDatagrams = 1 << 16;

void deliver(const char* buf, long n, const FlowSink& sink) {
    detail::for_each_message(buf, std::size_t(n), [&](const nlmsghdr* nlh) {
        if (auto ev = detail::parse_flow_event(nlh))
            sink(*ev);
    });
}
} // namespace

struct ConntrackEvents::Impl {
    detail::NetlinkSocket sock;
    std::size_t rcvbuf;
    std::vector<char> buf = std::vector<char>(MNL_SOCKET_BUFFER_SIZE);
};

ConntrackEvents::ConntrackEvents(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
ConntrackEvents::ConntrackEvents(ConntrackEvents&&) noexcept = default;
ConntrackEvents& ConntrackEvents::operator=(ConntrackEvents&&) noexcept = default;
ConntrackEvents::~ConntrackEvents() = default;

Result<ConntrackEvents> ConntrackEvents::open(std::size_t rcvbuf) {
    auto sock = detail::NetlinkSocket::open();
    if (!sock)
        return Error{"conntrack events: " + sock.error()};
    rcvbuf = std::min(rcvbuf, kMaxBuffer);
    // The buffer first, so that no burst between joining and sizing overflows the default.
    CONENAT_TRY(sock->force_rcvbuf(rcvbuf));
    for (int group : {NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_DESTROY})
        CONENAT_TRY(sock->set_flag(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group, "conntrack events: join group"));
    // Lets ctnetlink notice a failed DESTROY delivery and redeliver it (NEW is not retried).
    CONENAT_TRY(sock->set_flag(SOL_NETLINK, NETLINK_BROADCAST_ERROR, 1, "conntrack events: NETLINK_BROADCAST_ERROR"));
    CONENAT_TRY(sock->set_nonblocking());
    return ConntrackEvents(std::make_unique<Impl>(Impl{std::move(sock.value()), rcvbuf}));
}

int ConntrackEvents::fd() const {
    return m_impl->sock.fd();
}

Result<ConntrackEvents::Read> ConntrackEvents::read(const FlowSink& sink) {
    bool lost = false;
    for (std::size_t i = 0; i < kMaxDatagrams; ++i) {
        long n = m_impl->sock.recv(m_impl->buf.data(), m_impl->buf.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS) {
                // The kernel dropped events; what is still queued is valid, keep reading.
                lost = true;
                continue;
            }
            return detail::sys_error("conntrack events: recv");
        }
        deliver(m_impl->buf.data(), n, sink);
    }
    return lost ? Read::Lost : Read::Drained;
}

std::size_t ConntrackEvents::grow_buffer() {
    const std::size_t next = std::min(m_impl->rcvbuf * 2, kMaxBuffer);
    if (next != m_impl->rcvbuf && m_impl->sock.force_rcvbuf(next))
        m_impl->rcvbuf = next;
    return m_impl->rcvbuf;
}

std::size_t ConntrackEvents::buffer_size() const {
    return m_impl->rcvbuf;
}

std::uint32_t ConntrackEvents::portid() const {
    return m_impl->sock.portid();
}

Status dump_conntrack(const FlowSink& sink) {
    auto sock = detail::NetlinkSocket::open();
    if (!sock)
        return Error{"conntrack dump: " + sock.error()};
    CONENAT_TRY(sock->set_recv_timeout_ms(5000));

    std::vector<char> buf(std::max<std::size_t>(MNL_SOCKET_BUFFER_SIZE, 64 * 1024));
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    const std::uint32_t seq = static_cast<std::uint32_t>(time(nullptr));
    nlh->nlmsg_seq = seq;
    auto* g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    g->nfgen_family = AF_INET;
    g->version = NFNETLINK_V0;
    g->res_id = 0;
    // The dump filter carries the layer-3 family (the kernel skips other families).
    if (nfct_filter_dump* filter = nfct_filter_dump_create()) {
        nfct_filter_dump_set_attr_u8(filter, NFCT_FILTER_DUMP_L3NUM, AF_INET);
        nfct_nlmsg_build_filter(nlh, filter);
        nfct_filter_dump_destroy(filter);
    }
    return detail::netlink_request(sock->fd(), sock->portid(), nlh, "conntrack dump", buf, [&](const nlmsghdr* m) {
        if (auto ev = detail::parse_flow_event(m))
            sink(*ev);
    });
}

} // namespace conenat::io
