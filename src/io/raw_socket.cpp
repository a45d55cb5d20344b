// RawIpSocket: IPPROTO_RAW (IP_HDRINCL implied), for ICMP errors the daemon originates.
#include "conenat/io/nfqueue.hpp"

#include "netlink.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace conenat::io {

Result<RawIpSocket> RawIpSocket::open() {
    int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_RAW);
    if (fd < 0)
        return detail::sys_error("raw socket");
    return RawIpSocket(fd);
}

RawIpSocket::RawIpSocket(RawIpSocket&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}

RawIpSocket& RawIpSocket::operator=(RawIpSocket&& other) noexcept {
    if (this != &other) {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
}

RawIpSocket::~RawIpSocket() {
    if (m_fd >= 0)
        ::close(m_fd);
}

Status RawIpSocket::send(std::span<const std::uint8_t> packet) {
    if (packet.size() < 20 || (packet[0] >> 4) != 4)
        return Error{"raw socket: not an IPv4 packet"};
    sockaddr_in to{};
    to.sin_family = AF_INET;
    std::memcpy(&to.sin_addr.s_addr, packet.data() + 16, 4); // already network byte order
    if (::sendto(m_fd, packet.data(), packet.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0)
        return detail::sys_error("raw socket: send");
    return {};
}

} // namespace conenat::io
