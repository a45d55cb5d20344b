// Chooses external address:port pairs (RFC 4787 REQ-2/3/4, RFC 6056, RFC 7422, RFC 7597)
// and tracks which are in use, per protocol. Never hands out one external endpoint twice.
#pragma once

#include "conenat/core/nat/port_set.hpp"
#include "conenat/core/nat/random.hpp"
#include "conenat/core/nat/siphash.hpp"
#include "conenat/core/types.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace conenat::core {

struct PoolConfig {
    std::vector<Ipv4> external_addrs;    // none: nothing is allocated (a WAN without an address yet)
    PortSet ports = PortSet::from_ranges({{1024, 65535}});
    std::uint32_t block_size = 0;        // > 0: deterministic per-host port blocks (RFC 7422)
    Ipv4 internal_base = 0;              // with block_size: host offset = host - internal_base
    bool preserve_port = true;           // keep the internal port when allowed and free
    bool preserve_parity = true;         // RFC 4787 REQ-4
    std::uint32_t quarantine_ms = 120000; // CGN-8: a released port stays unused this long
    std::uint32_t quarantine_max = 4096;  // CGN-8: at most this many ports in quarantine
    // Set: a port that is not preserved comes from a keyed hash of the internal endpoint (RFC 6056
    // §3.3.3), the same on every router with this key (an HA pair); unset: from the PRNG.
    std::optional<SipKey> port_key;

    // Whether `a` is one of ours: traffic to it from inside is hairpinned.
    bool is_external(Ipv4 a) const { return std::find(external_addrs.begin(), external_addrs.end(), a) != external_addrs.end(); }
};

// RFC 7422 block of one internal host: ports ports.at(first_index .. first_index+count-1)
// on external_addrs[addr_index].
struct PortBlock {
    std::uint32_t addr_index = 0;
    std::uint32_t first_index = 0;
    std::uint32_t count = 0;
};

class PortAllocator {
public:
    PortAllocator(PoolConfig config, std::uint64_t seed);

    const PoolConfig& config() const { return m_config; }
    // Paired pooling: the external address index of internal `host`, the same on every call
    // and across restarts (a stable hash, or the host's block when blocks are configured).
    std::uint32_t address_index_for(Ipv4 host) const;
    // The host's block (f1 of RFC 7422); nullopt when blocks are off or the host has none.
    std::optional<PortBlock> block_for(Ipv4 host) const;
    // The internal host owning external `ext` (f2 of RFC 7422); nullopt when blocks are off.
    std::optional<Ipv4> host_for(Endpoint ext) const;

    // A free external endpoint for `internal` on `proto`: on its paired address, inside its
    // block if any; the internal port if allowed and free, else a random (or keyed) free port of
    // the same parity (any parity as a last resort). nullopt when none is free.
    std::optional<Endpoint> allocate(Proto proto, Endpoint internal, TimeMs now);
    // Marks `ext` used (state rebuilt from the kernel). False if it is not in the pool or taken.
    bool claim(Proto proto, Endpoint ext);
    // Marks `ext` used for a static forward, taking it out of quarantine if need be (a
    // quarantined port has no owner). False if it is not in the pool or has an owner.
    bool reserve(Proto proto, Endpoint ext);
    // Frees `ext`; with `quarantine` it stays unusable for quarantine_ms (CGN-8).
    void release(Proto proto, Endpoint ext, TimeMs now, bool quarantine);
    // After a pool change (a reconfigure, once the kept endpoints are claimed): what `old` holds
    // in quarantine, and this pool has free, stays quarantined for the rest of its time (CGN-8).
    void carry_quarantine(const PortAllocator& old, TimeMs now);
    bool in_use(Proto proto, Endpoint ext) const;
    std::uint32_t used(Proto proto) const;      // endpoints in use, quarantined ones included
    std::uint32_t capacity() const;             // external endpoints per protocol

private:
    // A quarantined endpoint: `index` is its port's index in the PortSet.
    struct Quarantined {
        TimeMs since;
        std::uint32_t addr_index;
        std::uint32_t index;
        std::uint8_t slot;
    };
    struct IndexRange { std::uint32_t lo = 0, hi = 0; }; // [lo, hi) of PortSet indices

    std::optional<std::uint32_t> find_addr(Ipv4 addr) const;
    std::size_t word_base(unsigned slot, std::uint32_t addr_index) const;
    bool test(unsigned slot, std::uint32_t addr_index, std::uint32_t index) const;
    void take(unsigned slot, std::uint32_t addr_index, std::uint32_t index);
    void free_now(unsigned slot, std::uint32_t addr_index, std::uint32_t index);
    void expire(TimeMs now);
    void pop_quarantine();
    // Who a draw is for: with a port key, the choices depend on it alone.
    struct Drawer {
        unsigned slot;
        Endpoint internal;
    };
    std::uint32_t choice(const Drawer& d, std::uint32_t i, std::uint32_t bound);
    std::optional<std::uint32_t> draw(const std::uint64_t* used, IndexRange r, int parity, const Drawer& d);
    std::optional<std::uint32_t> scan(const std::uint64_t* used, IndexRange r, int parity, const Drawer& d);

    PoolConfig m_config;
    Random m_rng;
    std::uint32_t m_words = 0;           // bitmap words per (protocol, address)
    std::uint32_t m_blocks_per_addr = 0; // RFC 7422 blocks per external address
    std::uint32_t m_low_count = 0;       // ports below 1024: the class split of RFC 4787 REQ-3a
    std::vector<std::uint64_t> m_odd;    // bit i set: ports.at(i) is odd
    std::vector<std::uint64_t> m_used_bits;       // [slot][addr_index][word], bit per PortSet index
    std::vector<std::uint64_t> m_quarantine_bits; // same layout; subset of m_used_bits
    std::vector<std::pair<Ipv4, std::uint32_t>> m_addr_lookup; // sorted (address, index)
    std::uint32_t m_used[3] = {};
    std::vector<Quarantined> m_ring; // FIFO of capacity quarantine_max
    std::uint32_t m_q_head = 0, m_q_count = 0;
};

} // namespace conenat::core
