// A raw IPv4 socket: the packets conenatd originates itself (ICMP errors) or re-injects
// (hairpinned packets of the queue engine).
#pragma once

#include "conenat/io/fd.hpp"
#include "conenat/util/result.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace conenat::io {

// Sends raw IPv4 packets (ICMP errors the daemon originates, packets it re-injects), IP_HDRINCL.
class RawIpSocket {
public:
    // `mark`: SO_MARK on every packet sent (0: none), so that rules can tell them apart.
    static Result<RawIpSocket> open(std::uint32_t mark = 0);
    Status send(std::span<const std::uint8_t> packet);
    // Many packets, sendmmsg in chunks; returns how many the kernel took (it goes on past a
    // packet it refuses, e.g. one larger than the route's MTU).
    std::size_t send(std::span<const std::span<const std::uint8_t>> packets);

private:
    explicit RawIpSocket(int fd) : m_fd(fd) {}
    UniqueFd m_fd;
};

} // namespace conenat::io
