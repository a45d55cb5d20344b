// libFuzzer target: hostile rtnetlink answers and events through the parsers Rtnetlink and
// RtnetlinkMonitor use (the message walk, ACKs with extended-ACK text, rule dumps, link and
// address answers, address and link events). Requires: no crash, no access
// outside the datagram (ASan: it sits in a buffer of exactly its size), and an ACK's text lies
// inside its message.
#include "src/io/netlink.hpp"
#include "src/io/rtnetlink_parse.hpp"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

using namespace conenat::io;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Netlink messages are 4-byte aligned in the kernel's buffers: new[] keeps that property.
    const std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[size ? size : 1]);
    std::memcpy(buf.get(), data, size);
    std::vector<Rtnetlink::ListedRule> rules;
    detail::for_each_message(buf.get(), size, [&](const nlmsghdr* nlh) {
        if (nlh->nlmsg_type == NLMSG_ERROR) {
            const detail::NetlinkAck ack = detail::parse_ack(nlh);
            const auto* text = reinterpret_cast<const std::uint8_t*>(ack.message.data());
            const auto* end = reinterpret_cast<const std::uint8_t*>(nlh) + nlh->nlmsg_len;
            if (!ack.message.empty() && (text < reinterpret_cast<const std::uint8_t*>(nlh) || text + ack.message.size() > end))
                std::abort();
        }
        detail::parse_rule(nlh, rules);
        (void)detail::parse_link(nlh);
        const auto address = detail::parse_address(nlh);
        const auto event = detail::parse_interface_event(nlh);
        // An address answer is an address event too, with the same address.
        if (address && (!event || event->address != address->local || event->ifindex != address->index))
            std::abort();
    });
    return 0;
}
