// How the software engines (queue, tun) split the NAT between their workers so that they share no state on the
// packet path: a mapping lives in exactly one worker, which both directions reach. Outbound
// packets are sharded by internal host (so per-host quotas, RFC 7422 blocks and paired
// pooling see all of a host's mappings); inbound packets by external port, each worker
// allocating only from its own slice of the port set. A static forward (NatConfig::forwards)
// lives in the worker of its internal host, which also owns its external port, inside the
// pool's set or not. Pure: unit-tested.
#pragma once

#include "conenat/core/nat/config.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace conenat::engine {

constexpr std::uint8_t kNoWorker = 0xff;
constexpr unsigned kMaxWorkers = 64;

// Keys [first, last] belong to `worker`.
struct ShardRange {
    std::uint32_t first = 0, last = 0;
    std::uint8_t worker = 0;
};

struct ShardPlan {
    unsigned workers = 1;
    // true: hosts are keyed by the last byte of their address (0..255, `hosts` lists each
    // byte); false (RFC 7422 blocks): by whole address intervals covering the internal net.
    bool by_low_byte = true;
    std::vector<ShardRange> hosts; // sorted, disjoint
    // sorted, disjoint; exactly the ports some worker allocates, and the forwards' ports
    std::vector<ShardRange> ports;
    // worker k's own: its port slice, its share of the caps, its forwards (under RFC 7422 blocks
    // also those whose port lies in one of its blocks: a copy that keeps the port reserved)
    std::vector<core::NatConfig> configs;

    // Every port's worker (kNoWorker outside `ports`): what a worker asks before it hands a
    // hairpinned packet on.
    std::vector<std::uint8_t> port_owner = std::vector<std::uint8_t>(65536, kNoWorker);

    std::uint8_t worker_of_port(std::uint16_t port) const { return port_owner[port]; }
    std::uint8_t worker_of_host(core::Ipv4 host) const;

    // For worker_of_host under RFC 7422 blocks.
    core::Ipv4 block_base = 0;
    std::uint32_t blocks_per_addr = 0, block_hosts = 0;
};

// The plan for `workers` workers (1..kMaxWorkers) over `config`, whose internal hosts lie in
// the `internal` prefixes. Empty `error` on success; otherwise why not (e.g. more workers than
// ports, or a UDP and a TCP forward on one port for hosts of different workers).
ShardPlan plan_shards(const core::NatConfig& config, const std::vector<core::Prefix>& internal, unsigned workers,
                      std::string* error);

// The ports inbound traffic may name: the pool's and the forwards' (sorted, merged).
std::vector<core::PortRange> nat_ports(const core::NatConfig& config);

} // namespace conenat::engine
