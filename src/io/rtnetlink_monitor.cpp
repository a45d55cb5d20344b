// RtnetlinkMonitor: a NETLINK_ROUTE socket in the link and IPv4 address groups.
#include "conenat/io/rtnetlink_monitor.hpp"

#include "netlink.hpp"
#include "rtnetlink_parse.hpp"

#include <linux/rtnetlink.h>


namespace conenat::io {

namespace {
// A burst (a PPPoE session coming up, a flush of many addresses) fits easily; an overrun is
// reported, and the reader re-reads the state it cares about anyway.
constexpr std::size_t kReceiveBuffer = 1 << 20;
} // namespace

struct RtnetlinkMonitor::Impl {
    detail::EventSocket events;
};

RtnetlinkMonitor::RtnetlinkMonitor(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
RtnetlinkMonitor::RtnetlinkMonitor(RtnetlinkMonitor&&) noexcept = default;
RtnetlinkMonitor& RtnetlinkMonitor::operator=(RtnetlinkMonitor&&) noexcept = default;
RtnetlinkMonitor::~RtnetlinkMonitor() = default;

Result<RtnetlinkMonitor> RtnetlinkMonitor::open() {
    detail::EventSocket::Spec spec;
    spec.bus = NETLINK_ROUTE;
    spec.groups = {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR};
    spec.rcvbuf = kReceiveBuffer;
    spec.what = "rtnetlink monitor";
    auto events = detail::EventSocket::open(std::move(spec));
    if (!events)
        return Error{events.error()};
    return RtnetlinkMonitor(std::make_unique<Impl>(Impl{std::move(events.value())}));
}

int RtnetlinkMonitor::fd() const {
    return m_impl->events.socket().fd();
}

Result<RtnetlinkMonitor::Read> RtnetlinkMonitor::read(const std::function<void(const InterfaceEvent&)>& sink) {
    auto lost = m_impl->events.drain([&](const nlmsghdr* nlh) {
        if (const auto ev = detail::parse_interface_event(nlh))
            sink(*ev);
    });
    if (!lost)
        return Error{lost.error()};
    return *lost ? Read::Lost : Read::Drained;
}

} // namespace conenat::io
