// Internal: one ctnetlink message -> FlowEvent, read with libnetfilter_conntrack; and the
// IPCTNL_MSG_CT_DELETE of one dumped entry, built with it. Never fails loudly: anything that is
// not an IPv4 UDP/TCP/ICMP entry with both tuples yields nullopt.
#pragma once

#include "conenat/io/conntrack.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

struct nlmsghdr;
struct nf_conntrack;

namespace conenat::io::detail {

struct NfctDestroy {
    void operator()(nf_conntrack* ct) const noexcept;
};
// An nf_conntrack object (nfct_new / nfct_destroy).
using NfctObject = std::unique_ptr<nf_conntrack, NfctDestroy>;

// Parses ctnetlink messages into one nf_conntrack object it allocated once (no allocation per
// message). The reply tuple's ICMP identifier is the one field read by hand: the library keeps
// one ATTR_ICMP_ID for both directions and returns the original one, but the reply's is the
// identifier NAT chose.
class FlowParser {
public:
    // nullopt: out of memory.
    static std::optional<FlowParser> create();

    // The message as a FlowEvent; nullopt for anything else (other subsystems, families, protocols).
    std::optional<FlowEvent> parse(const nlmsghdr* nlh);
    // The entry of the last parse() that returned an event, as the library holds it.
    const nf_conntrack& entry() const { return *m_ct; }

    // The largest copy of a message's attributes the library is given (both tuples, status, id,
    // zone: under 300 bytes for IPv6 with zones); a message whose kept attributes exceed it is refused.
    static constexpr std::size_t kMaxKept = 1024;

private:
    FlowParser(NfctObject ct, NfctObject blank) : m_ct(std::move(ct)), m_blank(std::move(blank)) {}
    const nlmsghdr* keep_known(const nlmsghdr* nlh);

    NfctObject m_ct, m_blank; // m_blank stays empty: copying it over m_ct clears m_ct without allocating
    alignas(4) std::array<std::uint8_t, kMaxKept> m_kept{};
};

// The entry's identity — its original tuple, zone and id — in a new object for a delete; null
// when out of memory.
NfctObject delete_key(const nf_conntrack& entry);

// Appends to `nlh` (an IPCTNL_MSG_CT_DELETE with its nfgenmsg, in a buffer of at least
// MNL_SOCKET_BUFFER_SIZE bytes) the attributes naming `key`: its original tuple, zone and id (the
// id makes the kernel refuse, ENOENT, a newer entry that took the same tuple meanwhile). False
// when the library refuses it.
bool build_delete(nlmsghdr* nlh, const nf_conntrack& key);

} // namespace conenat::io::detail
