#include "shard_plan.hpp"

#include <algorithm>

namespace conenat::engine {

namespace {

// Appends [first, last] -> worker, merging with the previous range when it continues it.
void append(std::vector<ShardRange>& out, std::uint32_t first, std::uint32_t last, std::uint8_t worker) {
    if (!out.empty() && out.back().worker == worker && std::uint64_t(out.back().last) + 1 == first) {
        out.back().last = last;
        return;
    }
    out.push_back({first, last, worker});
}

// The ports at PortSet indices [lo, hi), as port ranges tagged with `worker`.
void append_indices(std::vector<ShardRange>& out, const core::PortSet& set, std::uint32_t lo, std::uint32_t hi,
                    std::uint8_t worker) {
    std::uint32_t index = 0; // PortSet index of the current range's first port
    for (const core::PortRange& r : set.ranges()) {
        const std::uint32_t size = std::uint32_t(r.last) - r.first + 1;
        const std::uint32_t a = std::max(lo, index), b = std::min(hi, index + size);
        if (a < b)
            append(out, r.first + (a - index), r.first + (b - 1 - index), worker);
        index += size;
        if (index >= hi)
            break;
    }
}

std::uint32_t share(std::uint32_t total, unsigned workers) {
    return std::max<std::uint32_t>(1, (total + workers - 1) / workers);
}

} // namespace

std::uint8_t ShardPlan::worker_of_host(core::Ipv4 host) const {
    if (by_low_byte)
        return std::uint8_t((host & 0xff) % workers);
    if (host < block_base || host - block_base >= block_hosts)
        return 0; // no block: worker 0 refuses it
    return std::uint8_t(((host - block_base) % blocks_per_addr) % workers);
}

ShardPlan plan_shards(const core::NatConfig& config, const std::vector<core::Prefix>& internal, unsigned workers,
                      std::string* error) {
    ShardPlan plan;
    error->clear();
    if (workers == 0 || workers > kMaxWorkers) {
        *error = "queues: 1.." + std::to_string(kMaxWorkers) + " workers";
        return plan;
    }
    plan.workers = workers;
    const core::PortSet& set = config.pool.ports;
    const std::uint32_t size = set.size();
    const std::uint32_t block = config.pool.block_size;
    plan.by_low_byte = block == 0;

    if (block == 0) {
        if (size < workers) {
            *error = "queues: more workers than external ports (" + std::to_string(size) + ")";
            return plan;
        }
        // Outbound by the host's last byte: neighbours land on different workers.
        for (std::uint32_t b = 0; b < 256; ++b)
            append(plan.hosts, b, b, std::uint8_t(b % workers));
        // Inbound by contiguous slices of the port set.
        for (unsigned k = 0; k < workers; ++k)
            append_indices(plan.ports, set, std::uint32_t(std::uint64_t(size) * k / workers),
                           std::uint32_t(std::uint64_t(size) * (k + 1) / workers), std::uint8_t(k));
    } else {
        // RFC 7422: a host's block decides its ports, so the block decides its worker, the same
        // on every external address: block b (of each address) belongs to worker b % workers.
        plan.blocks_per_addr = size / block;
        plan.block_base = config.pool.internal_base;
        plan.block_hosts = std::uint32_t(std::min<std::uint64_t>(
            std::uint64_t(plan.blocks_per_addr) * config.pool.external_addrs.size(), 0xffffffffu - plan.block_base));
        for (std::uint32_t b = 0; b < plan.blocks_per_addr; ++b)
            append_indices(plan.ports, set, b * block, (b + 1) * block, std::uint8_t(b % workers));
        for (const core::Prefix& net : internal)
        for (std::uint64_t h = net.addr & net.mask(), net_last = h + ~net.mask(); h <= net_last;) {
            const std::uint8_t w = plan.worker_of_host(core::Ipv4(h));
            const bool in_blocks = h >= plan.block_base && h - plan.block_base < plan.block_hosts;
            // Outside the block hosts the worker is constant: jump to the next boundary.
            std::uint64_t last = h;
            if (!in_blocks)
                last = h < plan.block_base ? std::min<std::uint64_t>(net_last, plan.block_base - 1) : net_last;
            append(plan.hosts, std::uint32_t(h), std::uint32_t(last), w);
            h = last + 1;
        }
    }
    for (const ShardRange& r : plan.ports)
        for (std::uint32_t p = r.first; p <= r.last; ++p)
            plan.port_owner[p] = r.worker;

    for (unsigned k = 0; k < workers; ++k) {
        core::NatConfig c = config;
        if (block == 0) {
            std::vector<core::PortRange> slice;
            for (const ShardRange& r : plan.ports)
                if (r.worker == k)
                    slice.push_back({std::uint16_t(r.first), std::uint16_t(r.last)});
            c.pool.ports = core::PortSet::from_ranges(slice);
        }
        // The global caps are shared out: together the workers hold what one table would.
        c.max_mappings = share(config.max_mappings, workers);
        c.max_sessions = share(config.max_sessions, workers);
        c.max_held_syns = share(config.max_held_syns, workers);
        // So are the bounds per outside address: its SYNs and flows may reach every worker (by
        // the ports they aim at), and together they must stay within what one address may hold.
        c.max_held_syns_per_source = share(config.max_held_syns_per_source, workers);
        c.max_inbound_per_remote = share(config.max_inbound_per_remote, workers);
        plan.configs.push_back(std::move(c));
    }
    return plan;
}

} // namespace conenat::engine
