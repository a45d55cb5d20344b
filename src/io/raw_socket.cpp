// RawIpSocket: IPPROTO_RAW (IP_HDRINCL implied), for ICMP errors the daemon originates.
#include "conenat/io/raw_socket.hpp"

#include "netlink.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace conenat::io {

Result<RawIpSocket> RawIpSocket::open(std::uint32_t mark) {
    int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_RAW);
    if (fd < 0)
        return detail::sys_error("raw socket");
    RawIpSocket sock(fd);
    if (mark != 0 && ::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0)
        return detail::sys_error("raw socket: SO_MARK");
    return sock;
}

Status RawIpSocket::send(std::span<const std::uint8_t> packet) {
    if (packet.size() < 20 || (packet[0] >> 4) != 4)
        return Error{"raw socket: not an IPv4 packet"};
    sockaddr_in to{};
    to.sin_family = AF_INET;
    std::memcpy(&to.sin_addr.s_addr, packet.data() + 16, 4); // already network byte order
    if (::sendto(m_fd.get(), packet.data(), packet.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0)
        return detail::sys_error("raw socket: send");
    return {};
}

std::size_t RawIpSocket::send(std::span<const std::span<const std::uint8_t>> packets) {
    constexpr std::size_t kChunk = 64;
    sockaddr_in to[kChunk];
    iovec iov[kChunk];
    mmsghdr msgs[kChunk];
    std::size_t sent = 0;
    for (std::size_t base = 0; base < packets.size();) {
        std::size_t n = 0;
        for (; n < kChunk && base + n < packets.size(); ++n) {
            const auto& p = packets[base + n];
            to[n] = {};
            to[n].sin_family = AF_INET;
            if (p.size() >= 20)
                std::memcpy(&to[n].sin_addr.s_addr, p.data() + 16, 4); // already network byte order
            iov[n] = {const_cast<std::uint8_t*>(p.data()), p.size()};
            msgs[n] = {};
            msgs[n].msg_hdr.msg_name = &to[n];
            msgs[n].msg_hdr.msg_namelen = sizeof to[n];
            msgs[n].msg_hdr.msg_iov = &iov[n];
            msgs[n].msg_hdr.msg_iovlen = 1;
        }
        const int r = ::sendmmsg(m_fd.get(), msgs, static_cast<unsigned>(n), 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            ++base; // sendmmsg stops at a refused packet: step over it
            continue;
        }
        sent += std::size_t(r);
        // A short count means packets[base + r] was refused: skip it and go on.
        base += std::size_t(r) + (std::size_t(r) < n ? 1 : 0);
    }
    return sent;
}

} // namespace conenat::io
