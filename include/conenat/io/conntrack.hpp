// conntrack events and dumps over ctnetlink (libnetfilter_conntrack + libmnl).
#pragma once

#include "conenat/core/types.hpp"
#include "conenat/util/result.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace conenat::io {

// One direction of a conntrack entry; for ICMP both ports hold the query identifier.
struct FlowTuple {
    core::Proto proto = core::Proto::Udp;
    core::Endpoint src, dst;
};

struct FlowEvent {
    enum Type : std::uint8_t { New, Destroy } type = New; // a dump yields New
    FlowTuple orig, reply;  // reply.dst != orig.src: source NAT; reply.src != orig.dst: destination NAT
    std::uint32_t status = 0;  // IPS_* bits
    std::uint32_t portid = 0;  // netlink port id of the process that caused it (0: the kernel)
};

using FlowSink = std::function<void(const FlowEvent&)>;

class ConntrackEvents {
public:
    // Subscribes to NEW and DESTROY (IPv4, UDP/TCP/ICMP) with a receive buffer of `rcvbuf`
    // bytes (SO_RCVBUFFORCE). Non-blocking.
    static Result<ConntrackEvents> open(std::size_t rcvbuf);
    ConntrackEvents(ConntrackEvents&&) noexcept;
    ConntrackEvents& operator=(ConntrackEvents&&) noexcept;
    ~ConntrackEvents();

    int fd() const;
    enum class Read { Drained, Lost }; // Lost: ENOBUFS, events were dropped: resync from a dump
    // Delivers every event ready now (without blocking) to `sink`.
    Result<Read> read(const FlowSink& sink);
    // Doubles the receive buffer (up to 1 GiB); returns the new size.
    std::size_t grow_buffer();
    std::size_t buffer_size() const;
    // Our own netlink port id, to recognise our own ctnetlink writes.
    std::uint32_t portid() const;

private:
    struct Impl;
    explicit ConntrackEvents(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

// Dumps the IPv4 conntrack table (UDP/TCP/ICMP entries), one FlowEvent (type New) per entry.
Status dump_conntrack(const FlowSink& sink);

// Deletes every conntrack entry (IPv4 UDP/TCP/ICMP) whose source NAT chose `external`: its reply
// tuple's destination, on an entry the NAT translated (not the router's own flows from that
// address), as the kernel's MASQUERADE does when an interface loses an address. An entry that
// ends meanwhile is not counted and is no error. Returns how many were deleted.
Result<std::size_t> delete_conntrack_nat(core::Ipv4 external);
// The same for one external endpoint of one protocol (ICMP: the query identifier).
Result<std::size_t> delete_conntrack_nat(core::Proto proto, core::Endpoint external);

} // namespace conenat::io
