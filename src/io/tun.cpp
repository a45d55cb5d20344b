// TunQueue: one queue of a TUN device with virtio-net headers and checksum/TSO offloads.
#include "conenat/io/tun.hpp"

#include "netlink.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace conenat::io {

// <linux/virtio_net.h> does not compile as C++ (a member named `class`): VnetHeader spells out
// its struct virtio_net_hdr and constants.

namespace {

// Little-endian 16-bit fields (TUNSETVNETLE), whatever the host's order.
std::uint16_t load_le16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] | p[1] << 8);
}
void store_le16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
}

Error tun_error(const std::string& name, std::string_view what, int err = errno) {
    return detail::sys_error("tun " + name + ": " + std::string(what), err);
}

} // namespace

VnetHeader VnetHeader::load(const std::uint8_t* p) {
    VnetHeader h;
    h.flags = p[0];
    h.gso_type = p[1];
    h.hdr_len = load_le16(p + 2);
    h.gso_size = load_le16(p + 4);
    h.csum_start = load_le16(p + 6);
    h.csum_offset = load_le16(p + 8);
    return h;
}

void VnetHeader::store(std::uint8_t* p) const {
    p[0] = flags;
    p[1] = gso_type;
    store_le16(p + 2, hdr_len);
    store_le16(p + 4, gso_size);
    store_le16(p + 6, csum_start);
    store_le16(p + 8, csum_offset);
}

Result<TunQueue> TunQueue::open(const std::string& name, bool multi_queue) {
    if (name.size() >= IFNAMSIZ)
        return Error{"tun " + name + ": interface name longer than " + std::to_string(IFNAMSIZ - 1) + " characters"};
    const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return detail::sys_error("tun " + name + ": open /dev/net/tun");
    TunQueue q(fd, name); // closes the fd on every error below

    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name.data(), name.size());
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR | (multi_queue ? IFF_MULTI_QUEUE : 0);
    if (::ioctl(fd, TUNSETIFF, &ifr) < 0)
        return tun_error(name, "TUNSETIFF");
    q.m_name.assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ)); // "name%d" resolved by the kernel

    int hdr_size = VnetHeader::kSize;
    if (::ioctl(fd, TUNSETVNETHDRSZ, &hdr_size) < 0)
        return tun_error(q.m_name, "TUNSETVNETHDRSZ");
    int little_endian = 1;
    if (::ioctl(fd, TUNSETVNETLE, &little_endian) < 0)
        return tun_error(q.m_name, "TUNSETVNETLE");
    // TUN_F_* say what we can take from the kernel: checksums left partial, TCP super-packets.
    // Every kernel since 2.6.27 knows these bits; the retry without ECN is for odd backports.
    unsigned offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN;
    if (::ioctl(fd, TUNSETOFFLOAD, offloads) < 0) {
        offloads &= ~TUN_F_TSO_ECN;
        if (::ioctl(fd, TUNSETOFFLOAD, offloads) < 0)
            return tun_error(q.m_name, "TUNSETOFFLOAD (checksum, TSO4)");
    }
    return q;
}

Result<std::size_t> TunQueue::read(std::span<std::uint8_t> buf) {
    for (;;) {
        const ssize_t n = ::read(m_fd.get(), buf.data(), buf.size());
        if (n >= 0)
            return static_cast<std::size_t>(n);
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return std::size_t{0};
        return tun_error(m_name, "read");
    }
}

Status TunQueue::write(std::span<const std::uint8_t> pkt) {
    for (;;) {
        const ssize_t n = ::write(m_fd.get(), pkt.data(), pkt.size());
        if (n >= 0 && static_cast<std::size_t>(n) == pkt.size())
            return {};
        if (n >= 0)
            return Error{"tun " + m_name + ": write: short write (" + std::to_string(n) + " of " +
                         std::to_string(pkt.size()) + " bytes)"};
        if (errno != EINTR)
            return tun_error(m_name, "write");
    }
}

} // namespace conenat::io
