// Internal: the netlink socket owner shared by the adapters, and errno -> Error helpers.
#pragma once

#include "conenat/util/result.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <linux/netlink.h>

struct mnl_socket;

namespace conenat::io::detail {

// "what: strerror(err)".
Error sys_error(std::string_view what, int err = errno);

struct MnlSocketCloser {
    void operator()(mnl_socket* s) const noexcept;
};

// One netlink socket, NETLINK_NETFILTER unless told (move-only owner of a libmnl handle).
class NetlinkSocket {
public:
    // Opens and binds (automatic port id) to the multicast `groups` (NF_NETLINK_* or
    // RTMGRP_* bits) of `bus`.
    static Result<NetlinkSocket> open(unsigned groups = 0, int bus = NETLINK_NETFILTER);

    int fd() const;
    std::uint32_t portid() const;
    mnl_socket* get() const { return m_sock.get(); }

    Status set_flag(int level, int option, int value, std::string_view what);
    // SO_RCVBUFFORCE / SO_SNDBUFFORCE (root ignores rmem_max / wmem_max).
    Status force_rcvbuf(std::size_t bytes);
    Status force_sndbuf(std::size_t bytes);
    Status set_nonblocking();
    Status set_recv_timeout_ms(int ms);
    // One datagram; -1 with errno set on failure.
    long recv(void* buf, std::size_t len, int flags = 0) const;
    long send(const void* buf, std::size_t len) const;

private:
    explicit NetlinkSocket(mnl_socket* s) : m_sock(s) {}
    std::unique_ptr<mnl_socket, MnlSocketCloser> m_sock;
};

// Reads every datagram a non-blocking multicast socket holds now (at most `max_datagrams`) into
// `buf`, each message from the kernel to `on_message` (datagrams from other processes are
// skipped: any process may send to our port id). Returns whether the kernel dropped messages
// meanwhile (ENOBUFS: the socket overran; what is still queued is valid and is read too).
Result<bool> drain_events(const NetlinkSocket& sock, std::span<char> buf, std::size_t max_datagrams,
                          std::string_view what, const std::function<void(const nlmsghdr*)>& on_message);

// A subscribed, non-blocking multicast socket and its receive buffer: what each event reader
// (conntrack events, the rtnetlink and nf_tables monitors) holds.
class EventSocket {
public:
    struct Spec {
        int bus = NETLINK_NETFILTER;
        std::vector<unsigned> groups;     // joined last (NETLINK_ADD_MEMBERSHIP): nothing comes before the setup
        std::size_t rcvbuf = 0;           // forced (SO_RCVBUFFORCE); 0: the default
        std::size_t datagram = 1 << 16;   // the largest datagram read whole
        std::size_t max_datagrams = 1024; // per drain(): the fd stays readable for the next
        std::string what;                 // names the socket in errors
    };
    // `setup` runs on the socket before it joins the groups (socket options, filters).
    static Result<EventSocket> open(Spec spec, const std::function<Status(NetlinkSocket&)>& setup = {});

    NetlinkSocket& socket() { return m_sock; }
    const NetlinkSocket& socket() const { return m_sock; }
    // drain_events: every message ready now to `on_message`; true when the kernel dropped some.
    Result<bool> drain(const std::function<void(const nlmsghdr*)>& on_message);

private:
    EventSocket(NetlinkSocket sock, Spec spec) : m_sock(std::move(sock)), m_spec(std::move(spec)), m_buf(m_spec.datagram) {}
    NetlinkSocket m_sock;
    Spec m_spec;
    std::vector<char> m_buf;
};

// The error carried by an NLMSG_ERROR message (0 for an ACK), and its extended-ACK text if any.
struct NetlinkAck {
    std::uint32_t seq = 0;
    int error = 0;          // positive errno
    std::string_view message;
};
// Parses an NLMSG_ERROR message (with NETLINK_CAP_ACK / NETLINK_EXT_ACK layouts).
NetlinkAck parse_ack(const nlmsghdr* nlh);

// One datagram of answers from the kernel into `buf`: EINTR is retried; a timeout (SO_RCVTIMEO),
// a truncated datagram and a sender other than the kernel (port 0: any process may send to
// our port id) are errors, or, for the last, skipped. `what` names the request in errors.
Result<std::size_t> receive_answers(int fd, std::span<char> buf, std::string_view what);

// The one request/ACK exchange of every netlink socket that asks the kernel something and
// waits: sends `request` (the caller sets its type, flags with NLM_F_ACK or NLM_F_DUMP, and
// a fresh nlmsg_seq) on `fd`, then reads answers until its ACK (NLMSG_ERROR) or, for a dump,
// NLMSG_DONE. Only messages to `portid` with the request's sequence number are its answers
// (late answers to an earlier request are skipped). An NLMSG_ERROR carrying an errno, or a
// dump's NLMSG_DONE carrying one, is the Error "what: strerror (kernel's message)". Every
// other answer goes to `on_reply`. `buf` receives (one datagram at most its size).
Status netlink_request(int fd, std::uint32_t portid, const nlmsghdr* request, std::string_view what,
                       std::span<char> buf, const std::function<void(const nlmsghdr*)>& on_reply = {});

// Walks the netlink messages of a received buffer: `left` is what remains of it. A message
// whose length does not fit the rest ends the walk (nullptr): libmnl's mnl_nlmsg_ok compares
// nlmsg_len as a signed int, so a length of 0xffffffff would pass it and leave the buffer. The
// padding must fit too: libmnl's attribute walks run to the aligned end of the message
// (mnl_nlmsg_get_payload_tail). The kernel pads every message but nfqueue's packet messages,
// which NfQueue::receive pads itself.
inline const nlmsghdr* fitting(const void* at, std::size_t left) {
    const auto* nlh = static_cast<const nlmsghdr*>(at);
    return left >= sizeof(nlmsghdr) && nlh->nlmsg_len >= sizeof(nlmsghdr) && nlh->nlmsg_len <= left &&
                   ((std::size_t(nlh->nlmsg_len) + NLMSG_ALIGNTO - 1) & ~std::size_t(NLMSG_ALIGNTO - 1)) <= left
               ? nlh
               : nullptr;
}
inline const nlmsghdr* next_message(const nlmsghdr* nlh, std::size_t& left) {
    const std::size_t step = NLMSG_ALIGN(nlh->nlmsg_len) < left ? NLMSG_ALIGN(nlh->nlmsg_len) : left;
    left -= step;
    return fitting(reinterpret_cast<const std::uint8_t*>(nlh) + step, left);
}
template <typename F>
void for_each_message(const void* buf, std::size_t len, F&& f) {
    for (const nlmsghdr* nlh = fitting(buf, len); nlh; nlh = next_message(nlh, len)) f(nlh);
}

// Calls `f` on each attribute after a family header of `hdr_size` bytes, never past nlmsg_len
// (the caller checked that the message fits its buffer); an attribute that does not fit ends it.
template <typename F>
void for_each_attr(const nlmsghdr* nlh, std::size_t hdr_size, F&& f) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(nlh) + NLMSG_HDRLEN + NLMSG_ALIGN(hdr_size);
    const auto* end = reinterpret_cast<const std::uint8_t*>(nlh) + nlh->nlmsg_len;
    while (p < end && std::size_t(end - p) >= sizeof(nlattr)) {
        const auto* attr = reinterpret_cast<const nlattr*>(p);
        if (attr->nla_len < sizeof(nlattr) || attr->nla_len > std::size_t(end - p))
            return;
        f(attr);
        p += NLA_ALIGN(attr->nla_len);
    }
}

// Whether every message of the buffer fits it (checked before handing it to mnl_cb_run).
inline bool well_formed(const void* buf, std::size_t len) {
    std::size_t covered = 0;
    for_each_message(buf, len, [&](const nlmsghdr* nlh) { covered += NLMSG_ALIGN(nlh->nlmsg_len); });
    return covered >= len;
}

} // namespace conenat::io::detail
