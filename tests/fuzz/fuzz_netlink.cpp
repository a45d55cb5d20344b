// libFuzzer target: hostile ctnetlink messages (conntrack events and dump replies) through the
// parser the events thread uses, and the entry identity a conntrack delete echoes. Requires: no
// crash, no read out of bounds (ASan), any event it accepts names a UDP/TCP/ICMP flow, and an
// identity is whole attributes copied from the message (no longer than its payload).
#include "src/io/conntrack_parse.hpp"
#include "src/io/netlink.hpp"

#include <cstdlib>
#include <cstring>
#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Netlink messages are 4-byte aligned in the kernel's buffers: new[] keeps that property, and
    // a buffer of exactly the datagram's size lets ASan see any read past it.
    const std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[size ? size : 1]);
    std::memcpy(buf.get(), data, size);
    // The same walk the events thread does over what recv() returned.
    conenat::io::detail::for_each_message(buf.get(), size, [](const nlmsghdr* nlh) {
        if (const auto e = conenat::io::detail::parse_flow_event(nlh)) {
            const auto p = e->orig.proto;
            if (p != conenat::core::Proto::Udp && p != conenat::core::Proto::Tcp && p != conenat::core::Proto::Icmp)
                std::abort();
        }
        const auto id = conenat::io::detail::entry_identity(nlh);
        if (id.size() % 4 != 0 || id.size() > nlh->nlmsg_len)
            std::abort();
    });
    return 0;
}
