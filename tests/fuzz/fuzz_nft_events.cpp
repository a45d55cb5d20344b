// libFuzzer target: hostile nf_tables notifications through the parser NftMonitor uses (the
// message walk, then one NftEvent per message). Requires: no crash, no read out of bounds (ASan:
// the datagram sits in a buffer of exactly its size), and the names it returns lie inside the
// message (no longer than it) and hold no NUL.
#include "src/io/netlink.hpp"
#include "src/io/nft_event_parse.hpp"

#include <cstdlib>
#include <cstring>
#include <memory>

using namespace conenat::io;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Netlink messages are 4-byte aligned in the kernel's buffers: new[] keeps that property.
    const std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[size ? size : 1]);
    std::memcpy(buf.get(), data, size);
    detail::for_each_message(buf.get(), size, [&](const nlmsghdr* nlh) {
        const auto ev = detail::parse_nft_event(nlh);
        if (!ev)
            return;
        for (const std::string* name : {&ev->table, &ev->proc_name})
            if (name->size() > nlh->nlmsg_len || name->find('\0') != std::string::npos)
                std::abort();
        if (ev->object == NftEvent::Object::Generation ? !ev->table.empty() : ev->proc_pid != 0)
            std::abort();
        if (ev->portid != nlh->nlmsg_pid)
            std::abort();
    });
    return 0;
}
