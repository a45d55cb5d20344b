// Interface address and link changes from the kernel (rtnetlink multicast groups
// RTMGRP_IPV4_IFADDR and RTMGRP_LINK), without polling: what tells the router's watch that
// the WAN's addresses may have changed.
#pragma once

#include "conenat/util/result.hpp"

#include <cstdint>
#include <functional>
#include <memory>

namespace conenat::io {

// One change: an IPv4 address added or removed, or a link created, changed or deleted.
struct InterfaceEvent {
    enum class Kind : std::uint8_t { AddressAdded, AddressRemoved, LinkChanged, LinkRemoved } kind{};
    unsigned ifindex = 0;
    std::uint32_t address = 0; // host order; the interface's own (IFA_LOCAL) for address events
};

class RtnetlinkMonitor {
public:
    // Subscribed from here on, non-blocking.
    static Result<RtnetlinkMonitor> open();
    RtnetlinkMonitor(RtnetlinkMonitor&&) noexcept;
    RtnetlinkMonitor& operator=(RtnetlinkMonitor&&) noexcept;
    ~RtnetlinkMonitor();

    int fd() const;
    enum class Read { Drained, Lost }; // Lost: the socket overran, changes may be missing
    // Delivers every event ready now (without blocking) to `sink`.
    Result<Read> read(const std::function<void(const InterfaceEvent&)>& sink);

private:
    struct Impl;
    explicit RtnetlinkMonitor(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace conenat::io
