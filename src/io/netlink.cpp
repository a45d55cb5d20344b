#include "netlink.hpp"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstring>
#include <limits>
#include <string>

namespace conenat::io::detail {

namespace {
// One datagram into `buf`: its length, or -1 with errno set; `from` gets the sender and
// `msg_flags` recvmsg's flags (MSG_TRUNC: the datagram was longer than `buf`).
ssize_t receive_from(int fd, std::span<char> buf, int flags, sockaddr_nl& from, int& msg_flags) {
    iovec iov{buf.data(), buf.size()};
    msghdr mh{};
    mh.msg_name = &from;
    mh.msg_namelen = sizeof from;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    const ssize_t n = ::recvmsg(fd, &mh, flags);
    msg_flags = mh.msg_flags;
    return n;
}
} // namespace

Error sys_error(std::string_view what, int err) {
    return Error{std::string(what) + ": " + std::strerror(err)};
}

void MnlSocketCloser::operator()(mnl_socket* s) const noexcept {
    mnl_socket_close(s);
}

Result<NetlinkSocket> NetlinkSocket::open(unsigned groups, int bus) {
    mnl_socket* s = mnl_socket_open2(bus, SOCK_CLOEXEC);
    if (!s)
        return sys_error("netlink socket");
    NetlinkSocket sock(s);
    if (mnl_socket_bind(s, groups, MNL_SOCKET_AUTOPID) < 0)
        return sys_error("netlink bind");
    return sock;
}

int NetlinkSocket::fd() const {
    return mnl_socket_get_fd(m_sock.get());
}

std::uint32_t NetlinkSocket::portid() const {
    return mnl_socket_get_portid(m_sock.get());
}

Status NetlinkSocket::set_flag(int level, int option, int value, std::string_view what) {
    if (setsockopt(fd(), level, option, &value, sizeof value) < 0)
        return sys_error(what);
    return {};
}

Status NetlinkSocket::force_rcvbuf(std::size_t bytes) {
    return set_flag(SOL_SOCKET, SO_RCVBUFFORCE, static_cast<int>(bytes), "SO_RCVBUFFORCE");
}

Status NetlinkSocket::force_sndbuf(std::size_t bytes) {
    return set_flag(SOL_SOCKET, SO_SNDBUFFORCE, static_cast<int>(bytes), "SO_SNDBUFFORCE");
}

Status NetlinkSocket::set_nonblocking() {
    int flags = fcntl(fd(), F_GETFL);
    if (flags < 0 || fcntl(fd(), F_SETFL, flags | O_NONBLOCK) < 0)
        return sys_error("O_NONBLOCK");
    return {};
}

Status NetlinkSocket::set_recv_timeout_ms(int ms) {
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    if (setsockopt(fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
        return sys_error("SO_RCVTIMEO");
    return {};
}

long NetlinkSocket::recv(void* buf, std::size_t len, int flags) const {
    return ::recv(fd(), buf, len, flags);
}

long NetlinkSocket::send(const void* buf, std::size_t len) const {
    sockaddr_nl to{};
    to.nl_family = AF_NETLINK;
    return ::sendto(fd(), buf, len, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
}

Result<std::size_t> receive_answers(int fd, std::span<char> buf, std::string_view what) {
    for (;;) {
        sockaddr_nl from{};
        int msg_flags = 0;
        const ssize_t n = receive_from(fd, buf, 0, from, msg_flags);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return Error{std::string(what) + ": no answer from the kernel"};
            return sys_error(std::string(what) + ": receive");
        }
        if (msg_flags & MSG_TRUNC)
            return Error{std::string(what) + ": answer larger than " + std::to_string(buf.size()) + " bytes"};
        if (from.nl_pid != 0)
            continue; // any process may send to our port id: only the kernel answers
        return std::size_t(n);
    }
}

Result<bool> drain_events(const NetlinkSocket& sock, std::span<char> buf, std::size_t max_datagrams,
                          std::string_view what, const std::function<void(const nlmsghdr*)>& on_message) {
    bool lost = false;
    for (std::size_t i = 0; i < max_datagrams; ++i) {
        sockaddr_nl from{};
        int msg_flags = 0;
        const ssize_t n = receive_from(sock.fd(), buf, MSG_DONTWAIT, from, msg_flags);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS) {
                lost = true;
                continue;
            }
            return sys_error(std::string(what) + ": receive");
        }
        if (from.nl_pid != 0)
            continue;
        // A truncated datagram lost its tail: as good as dropped.
        if (msg_flags & MSG_TRUNC)
            lost = true;
        for_each_message(buf.data(), std::size_t(n), on_message);
    }
    return lost;
}

Result<EventSocket> EventSocket::open(Spec spec, const std::function<Status(NetlinkSocket&)>& setup) {
    auto sock = NetlinkSocket::open(0, spec.bus);
    if (!sock)
        return Error{spec.what + ": " + sock.error()};
    // The buffer first, so that no burst between joining and sizing overflows the default.
    if (spec.rcvbuf != 0)
        CONENAT_TRY(sock->force_rcvbuf(spec.rcvbuf));
    if (setup)
        CONENAT_TRY(setup(*sock));
    for (unsigned group : spec.groups)
        CONENAT_TRY(sock->set_flag(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, int(group), spec.what + ": join group"));
    CONENAT_TRY(sock->set_nonblocking());
    return EventSocket(std::move(sock.value()), std::move(spec));
}

Result<bool> EventSocket::drain(const std::function<void(const nlmsghdr*)>& on_message) {
    return drain_events(m_sock, m_buf, m_spec.max_datagrams, m_spec.what, on_message);
}

Status netlink_request(int fd, std::uint32_t portid, const nlmsghdr* request, std::string_view what,
                       std::span<char> buf, const std::function<void(const nlmsghdr*)>& on_reply) {
    sockaddr_nl to{};
    to.nl_family = AF_NETLINK;
    if (::sendto(fd, request, request->nlmsg_len, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0)
        return sys_error(std::string(what) + ": send");
    const std::uint32_t seq = request->nlmsg_seq;
    for (;;) {
        auto n = receive_answers(fd, buf, what);
        if (!n)
            return Error{n.error()};
        std::size_t left = *n;
        for (const nlmsghdr* nlh = fitting(buf.data(), left); nlh; nlh = next_message(nlh, left)) {
            if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != portid)
                continue;
            if (nlh->nlmsg_type == NLMSG_ERROR) {
                const NetlinkAck ack = parse_ack(nlh);
                if (ack.error == 0)
                    return {};
                Error e = sys_error(what, ack.error);
                if (!ack.message.empty())
                    e.message += " (" + std::string(ack.message) + ")";
                return e;
            }
            if (nlh->nlmsg_type == NLMSG_DONE) {
                // A dump ends here (dumps are not ACKed); its payload is the dump's error.
                int err = 0;
                if (nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof err)
                    std::memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof err);
                return err == 0 ? Status{} : Status{sys_error(what, err < 0 ? -err : err)};
            }
            if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
                continue; // NOOP, OVERRUN
            if (on_reply)
                on_reply(nlh);
        }
    }
}

NetlinkAck parse_ack(const nlmsghdr* nlh) {
    NetlinkAck ack;
    ack.seq = nlh->nlmsg_seq;
    if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(nlmsgerr))
        return ack;
    const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
    // -INT_MIN does not exist (the kernel sends -errno; anything else is some error too).
    ack.error = err->error == std::numeric_limits<int>::min() ? EPROTO : -err->error;
    if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
        return ack;
    // The TLVs follow the echoed request: only its header with NETLINK_CAP_ACK (NLM_F_CAPPED).
    // Its length is the message's word: it may not point before its own header or past the end.
    std::size_t offset = sizeof(nlmsgerr);
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
        if (err->msg.nlmsg_len < sizeof(nlmsghdr))
            return ack;
        offset += ((std::size_t(err->msg.nlmsg_len) + NLMSG_ALIGNTO - 1) & ~std::size_t(NLMSG_ALIGNTO - 1)) -
                  sizeof(nlmsghdr); // padded, as the kernel lays it out
    }
    if (offset > nlh->nlmsg_len - NLMSG_HDRLEN)
        return ack;
    const char* p = static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + offset;
    const char* end = reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len;
    while (p + sizeof(nlattr) <= end) {
        const auto* attr = reinterpret_cast<const nlattr*>(p);
        if (!mnl_attr_ok(attr, static_cast<int>(end - p)))
            break;
        if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
            ack.message = mnl_attr_get_str(attr);
        p += MNL_ALIGN(attr->nla_len);
    }
    return ack;
}

} // namespace conenat::io::detail
