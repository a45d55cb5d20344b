// NftMonitor: a NETLINK_NETFILTER socket in the NFNLGRP_NFTABLES group, optionally deaf to one
// sender (a classic BPF socket filter on the notification's nlmsg_pid).
#include "conenat/io/nft_monitor.hpp"

#include "netlink.hpp"
#include "nft_event_parse.hpp"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cstddef>

namespace conenat::io {

namespace {
// nft coalesces one transaction's notifications into datagrams of up to NLMSG_GOODSIZE; a
// `flush ruleset` of a big firewall is many of them. Overruns are reported (Read::Lost).
constexpr std::size_t kReceiveBuffer = 4 << 20;

// Drops every datagram whose first message comes from `portid`. Safe for the whole datagram:
// nf_tables coalesces only the notifications of one transaction (nft_commit_notify), all from
// the same sender. BPF loads words in network order, hence ntohl on the compared value.
Status attach_sender_filter(detail::NetlinkSocket& sock, std::uint32_t portid) {
    sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(nlmsghdr, nlmsg_pid)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(portid), 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0),          // ours: dropped
        BPF_STMT(BPF_RET | BPF_K, 0xffffffff), // anyone else's: kept whole
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
    if (setsockopt(sock.fd(), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0)
        return detail::sys_error("nftables monitor: SO_ATTACH_FILTER");
    return {};
}
} // namespace

struct NftMonitor::Impl {
    detail::EventSocket events;
};

NftMonitor::NftMonitor(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
NftMonitor::NftMonitor(NftMonitor&&) noexcept = default;
NftMonitor& NftMonitor::operator=(NftMonitor&&) noexcept = default;
NftMonitor::~NftMonitor() = default;

Result<NftMonitor> NftMonitor::open(std::uint32_t ignore_portid) {
    detail::EventSocket::Spec spec;
    spec.groups = {NFNLGRP_NFTABLES};
    spec.rcvbuf = kReceiveBuffer;
    spec.what = "nftables monitor";
    // The filter before joining: nothing of ours is ever queued.
    auto events = detail::EventSocket::open(std::move(spec), [&](detail::NetlinkSocket& sock) {
        return ignore_portid != 0 ? attach_sender_filter(sock, ignore_portid) : Status{};
    });
    if (!events)
        return Error{events.error()};
    return NftMonitor(std::make_unique<Impl>(Impl{std::move(events.value())}));
}

int NftMonitor::fd() const {
    return m_impl->events.socket().fd();
}

Result<NftMonitor::Read> NftMonitor::read(const std::function<void(const NftEvent&)>& sink) {
    auto lost = m_impl->events.drain([&](const nlmsghdr* nlh) {
        if (auto ev = detail::parse_nft_event(nlh))
            sink(*ev);
    });
    if (!lost)
        return Error{lost.error()};
    return *lost ? Read::Lost : Read::Drained;
}

} // namespace conenat::io
