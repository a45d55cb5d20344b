// conenatd's own nftables table, programmed with libnftnl in ACKed batches (never by running
// nft/iptables): a described rule set (nft_rules.hpp) installed, rendered as text, and the
// conntrack engine's NAT map elements (nat_maps.hpp).
#pragma once

#include "conenat/io/nat_maps.hpp"
#include "conenat/io/nft_rules.hpp"
#include "conenat/util/result.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace conenat::io {

// Packets counted by the `counter` statements of each chain of a table, by chain name.
using ChainCounters = std::map<std::string, std::uint64_t>;

class Nftables {
public:
    static Result<Nftables> open();
    Nftables(Nftables&&) noexcept;
    Nftables& operator=(Nftables&&) noexcept;
    ~Nftables();

    // Whether this kernel has the native nft queue statement (probed once in a scratch table).
    bool has_native_queue();
    // Replaces any table of that name with the described rule set, in one ACKed batch.
    Status install(const nft::RuleSet& rules);
    // Deletes the table (absent is fine). Everything of ours goes with it.
    Status remove(const std::string& table);
    // Adds / deletes the elements of these mappings in `maps`, in ACKed batches (split to fit
    // messages). Re-adding an element is fine; one whose key exists with other data replaces
    // it. Deleting absent elements is fine and does not stop the others.
    Status add(const NatMaps& maps, std::span<const MappingElement> mappings);
    Status remove_elements(const NatMaps& maps, std::span<const MappingElement> mappings);
    Result<ChainCounters> counters(const std::string& table);
    // The netlink port id of this socket: the nlmsg_pid of the change notifications our own
    // batches cause (NftMonitor), so that they can be told from other processes' changes.
    std::uint32_t portid() const;
    // The described rule set as `nft list table` prints it, after its comment lines.
    static std::string render(const nft::RuleSet& rules);

private:
    struct Impl;
    explicit Nftables(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace conenat::io
