// RtnetlinkMonitor: a NETLINK_ROUTE socket in the link and IPv4 address groups.
#include "conenat/io/rtnetlink_monitor.hpp"

#include "netlink.hpp"
#include "rtnetlink_parse.hpp"

#include <linux/rtnetlink.h>

#include <vector>

namespace conenat::io {

namespace {
// A burst (a PPPoE session coming up, a flush of many addresses) fits easily; an overrun is
// reported, and the reader re-reads the state it cares about anyway.
constexpr std::size_t kReceiveBuffer = 1 << 20;
constexpr std::size_t kDatagram = 1 << 16;
constexpr std::size_t kMaxDatagrams = 1024; // per read(): the fd stays readable for the next
} // namespace

struct RtnetlinkMonitor::Impl {
    detail::NetlinkSocket sock;
    std::vector<char> buf = std::vector<char>(kDatagram);
};

RtnetlinkMonitor::RtnetlinkMonitor(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
RtnetlinkMonitor::RtnetlinkMonitor(RtnetlinkMonitor&&) noexcept = default;
RtnetlinkMonitor& RtnetlinkMonitor::operator=(RtnetlinkMonitor&&) noexcept = default;
RtnetlinkMonitor::~RtnetlinkMonitor() = default;

Result<RtnetlinkMonitor> RtnetlinkMonitor::open() {
    auto sock = detail::NetlinkSocket::open(RTMGRP_LINK | RTMGRP_IPV4_IFADDR, NETLINK_ROUTE);
    if (!sock)
        return Error{"rtnetlink monitor: " + sock.error()};
    CONENAT_TRY(sock->force_rcvbuf(kReceiveBuffer));
    CONENAT_TRY(sock->set_nonblocking());
    return RtnetlinkMonitor(std::make_unique<Impl>(Impl{std::move(sock.value())}));
}

int RtnetlinkMonitor::fd() const {
    return m_impl->sock.fd();
}

Result<RtnetlinkMonitor::Read> RtnetlinkMonitor::read(const std::function<void(const InterfaceEvent&)>& sink) {
    auto lost = detail::drain_events(m_impl->sock, m_impl->buf, kMaxDatagrams, "rtnetlink monitor",
                                     [&](const nlmsghdr* nlh) {
                                         if (const auto ev = detail::parse_interface_event(nlh))
                                             sink(*ev);
                                     });
    if (!lost)
        return Error{lost.error()};
    return *lost ? Read::Lost : Read::Drained;
}

} // namespace conenat::io
