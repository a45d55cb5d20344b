// Links, policy rules and routes over rtnetlink (libmnl), IPv4 only: what the tun engine
// installs to steer traffic through its device, and removes again. Every request is ACKed.
#pragma once

#include "conenat/core/types.hpp"
#include "conenat/util/result.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

struct mnl_socket;
struct nlmsghdr;

namespace conenat::io {

constexpr std::uint32_t kLocalTable = 255, kMainTable = 254;

// `ip rule`: from all [fwmark M/MASK] lookup TABLE, at priority `pref`.
struct PolicyRule {
    std::uint32_t pref = 0;
    std::uint32_t table = kMainTable;
    std::uint32_t fwmark = 0, fwmask = 0; // both 0: no mark match
    bool operator==(const PolicyRule&) const = default;
};

class Rtnetlink {
public:
    static Result<Rtnetlink> open();
    Rtnetlink(Rtnetlink&&) noexcept;
    Rtnetlink& operator=(Rtnetlink&&) noexcept;
    ~Rtnetlink();

    Result<unsigned> ifindex(const std::string& ifname);
    Result<unsigned> mtu(const std::string& ifname);
    // The interface's own IPv4 addresses now, by name (RTM_GETADDR dump; IFA_LOCAL, so the local
    // end of a point-to-point link such as PPPoE); empty when it has none or does not exist.
    Result<std::vector<core::Ipv4>> ipv4_addresses(const std::string& ifname);
    // Sets the link up (or down) and, when not 0, its MTU and transmit queue length.
    Status set_link(const std::string& ifname, bool up, unsigned mtu = 0, unsigned txqueuelen = 0);

    // The IPv4 policy rules, in priority order (only the fields PolicyRule has; rules with
    // other selectors — from/to/iif/oif/... — are listed with `other_selectors` true).
    struct ListedRule {
        PolicyRule rule;
        bool other_selectors = false;
    };
    Result<std::vector<ListedRule>> rules();
    Status add_rule(const PolicyRule& r);    // fails if the same rule exists
    Status delete_rule(const PolicyRule& r);

    // `ip route add default dev IFINDEX table TABLE` (scope link) and its removal.
    Status add_default_route(std::uint32_t table, unsigned ifindex);
    Status delete_default_route(std::uint32_t table, unsigned ifindex);

private:
    explicit Rtnetlink(mnl_socket* nl);
    struct Link {
        unsigned index = 0, mtu = 0;
    };
    Result<Link> link(const std::string& ifname); // RTM_GETLINK by name
    // Sends the request in `msg` (sequence number filled in here) and reads its answer up to the
    // ACK (NLMSG_DONE for a dump); the answer's other messages go to `reply`. Errors start with `what`.
    Status request(std::vector<std::uint8_t>& msg, const std::string& what,
                   const std::function<void(const nlmsghdr*)>& reply = {});
    mnl_socket* m_nl = nullptr;
    std::uint32_t m_seq = 0;
    std::uint32_t m_portid = 0;
};

// Rtnetlink::ipv4_addresses on a socket of its own.
Result<std::vector<core::Ipv4>> ipv4_addresses(const std::string& ifname);

} // namespace conenat::io
