// Internal: the netlink socket owner shared by the adapters, and errno -> Error helpers.
#pragma once

#include "conenat/util/result.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

struct mnl_socket;
struct nlmsghdr;

namespace conenat::io::detail {

// "what: strerror(err)".
Error sys_error(std::string_view what, int err = errno);

struct MnlSocketCloser {
    void operator()(mnl_socket* s) const noexcept;
};

// One NETLINK_NETFILTER socket (move-only owner of a libmnl handle).
class NetlinkSocket {
public:
    // Opens and binds (automatic port id) to the multicast `groups` (NF_NETLINK_* bits).
    static Result<NetlinkSocket> open(unsigned groups = 0);

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

// The error carried by an NLMSG_ERROR message (0 for an ACK), and its extended-ACK text if any.
struct NetlinkAck {
    std::uint32_t seq = 0;
    int error = 0;          // positive errno
    std::string_view message;
};
// Parses an NLMSG_ERROR message (with NETLINK_CAP_ACK / NETLINK_EXT_ACK layouts).
NetlinkAck parse_ack(const nlmsghdr* nlh);

} // namespace conenat::io::detail
