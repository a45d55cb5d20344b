// A TUN device queue (/dev/net/tun): IFF_TUN | IFF_NO_PI | IFF_VNET_HDR, optionally
// IFF_MULTI_QUEUE (open the same name once per queue). Every packet read or written starts
// with a struct virtio_net_hdr (10 bytes): offloads are on (TUNSETOFFLOAD: TUN_F_CSUM,
// TUN_F_TSO4, TUN_F_TSO_ECN), so the kernel hands over GSO super-packets whole with a partial
// checksum, and takes them back the same way. Not persistent: the device goes away with its
// last queue.
#pragma once

#include "conenat/io/fd.hpp"
#include "conenat/util/result.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace conenat::io {

// struct virtio_net_hdr. Its 16-bit fields are little-endian on every host: open() sets
// TUNSETVNETLE (without it the kernel would use the host's order, "legacy" virtio).
struct VnetHeader {
    static constexpr std::size_t kSize = 10;
    static constexpr std::uint8_t kNeedsCsum = 1;                     // VIRTIO_NET_HDR_F_NEEDS_CSUM
    static constexpr std::uint8_t kGsoNone = 0, kGsoTcpV4 = 1, kGsoUdp = 3, kGsoEcn = 0x80;
    std::uint8_t flags = 0;
    std::uint8_t gso_type = kGsoNone;
    std::uint16_t hdr_len = 0, gso_size = 0, csum_start = 0, csum_offset = 0;

    static VnetHeader load(const std::uint8_t* p);
    void store(std::uint8_t* p) const;
};

class TunQueue {
public:
    // Opens one queue of device `name` (created if it does not exist; the kernel picks a name
    // for "name%d"). Non-blocking.
    static Result<TunQueue> open(const std::string& name, bool multi_queue);

    int fd() const { return m_fd.get(); }
    const std::string& name() const { return m_name; }
    // One packet (virtio header + IPv4 packet) into `buf`; 0 when none is waiting (EAGAIN).
    // `buf` should hold kSize + 65535 bytes: a GSO packet comes whole.
    Result<std::size_t> read(std::span<std::uint8_t> buf);
    // One packet (virtio header + IPv4 packet); a short write is an error.
    Status write(std::span<const std::uint8_t> pkt);

private:
    TunQueue(int fd, std::string name) : m_fd(fd), m_name(std::move(name)) {}
    UniqueFd m_fd;
    std::string m_name;
};

} // namespace conenat::io
