// libFuzzer target: hostile ctnetlink messages (conntrack events and dump replies) through the
// parser the events thread uses (libnetfilter_conntrack behind our attribute checks), and the
// delete built from each entry it accepts. Requires: no crash, no exit (the library exits on an
// attribute of the wrong size: the checks must keep it from seeing one), no read out of bounds
// (ASan), no leak, any event it accepts names a UDP/TCP/ICMP flow, and the delete names the same
// original tuple when the library reads it back.
#include "src/io/conntrack_parse.hpp"
#include "src/io/netlink.hpp"

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include <cstdlib>
#include <cstring>
#include <memory>

namespace {

conenat::io::detail::FlowParser& parser() {
    static auto p = conenat::io::detail::FlowParser::create(); // reused, as by the events thread
    if (!p)
        std::abort();
    return *p;
}

void check_delete(const nf_conntrack& entry) {
    const auto key = conenat::io::detail::delete_key(entry);
    alignas(4) static char buf[8192];
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
    static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)))->nfgen_family = AF_INET;
    if (!key || !conenat::io::detail::build_delete(nlh, *key) || nlh->nlmsg_len > sizeof buf)
        std::abort();
    const conenat::io::detail::NfctObject back(nfct_new());
    if (!back || nfct_nlmsg_parse(nlh, back.get()) < 0 || nfct_cmp(back.get(), &entry, NFCT_CMP_ORIG) != 1)
        std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Netlink messages are 4-byte aligned in the kernel's buffers: new[] keeps that property, and
    // a buffer of exactly the datagram's size lets ASan see any read past it.
    const std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[size ? size : 1]);
    std::memcpy(buf.get(), data, size);
    // The same walk the events thread does over what recv() returned.
    conenat::io::detail::for_each_message(buf.get(), size, [](const nlmsghdr* nlh) {
        if (const auto e = parser().parse(nlh)) {
            const auto p = e->orig.proto;
            if (p != conenat::core::Proto::Udp && p != conenat::core::Proto::Tcp && p != conenat::core::Proto::Icmp)
                std::abort();
            check_delete(parser().entry());
        }
    });
    return 0;
}
