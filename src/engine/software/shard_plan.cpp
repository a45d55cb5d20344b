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

// The prefixes as disjoint address intervals in ascending order (the hosts' interval map must
// be sorted): overlapping and nested ones merged.
std::vector<ShardRange> host_intervals(const std::vector<core::Prefix>& internal) {
    std::vector<ShardRange> nets;
    for (const core::Prefix& p : internal)
        nets.push_back({p.addr & p.mask(), (p.addr & p.mask()) | ~p.mask(), 0});
    std::sort(nets.begin(), nets.end(), [](const ShardRange& a, const ShardRange& b) { return a.first < b.first; });
    std::vector<ShardRange> out;
    for (const ShardRange& n : nets) {
        if (!out.empty() && n.first <= out.back().last) {
            out.back().last = std::max(out.back().last, n.last);
            continue;
        }
        out.push_back(n);
    }
    return out;
}

// Worker k's slice: the pool's ports the plan gives it.
core::PortSet slice_of(const core::PortSet& set, const std::vector<std::uint8_t>& owner, unsigned k) {
    std::vector<core::PortRange> slice;
    for (const core::PortRange& r : set.ranges())
        for (std::uint32_t p = r.first; p <= r.last; ++p) {
            if (owner[p] != k) continue;
            if (!slice.empty() && slice.back().last + 1u == p) slice.back().last = std::uint16_t(p);
            else slice.push_back({std::uint16_t(p), std::uint16_t(p)});
        }
    return core::PortSet::from_ranges(slice);
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
    std::vector<ShardRange> slices; // the pool's ports by worker

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
            append_indices(slices, set, std::uint32_t(std::uint64_t(size) * k / workers),
                           std::uint32_t(std::uint64_t(size) * (k + 1) / workers), std::uint8_t(k));
    } else {
        // RFC 7422: a host's block decides its ports, so the block decides its worker, the same
        // on every external address: block b (of each address) belongs to worker b % workers.
        plan.blocks_per_addr = size / block;
        plan.block_base = config.pool.internal_base;
        plan.block_hosts = std::uint32_t(std::min<std::uint64_t>(
            std::uint64_t(plan.blocks_per_addr) * config.pool.external_addrs.size(), 0xffffffffu - plan.block_base));
        for (std::uint32_t b = 0; b < plan.blocks_per_addr; ++b)
            append_indices(slices, set, b * block, (b + 1) * block, std::uint8_t(b % workers));
        for (const ShardRange& net : host_intervals(internal))
        for (std::uint64_t h = net.first, net_last = net.last; h <= net_last;) {
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
    for (const ShardRange& r : slices)
        for (std::uint32_t p = r.first; p <= r.last; ++p)
            plan.port_owner[p] = r.worker;
    const std::vector<std::uint8_t> pool_owner = plan.port_owner;

    // A forward's both directions must reach one worker: its port goes to its host's worker.
    const std::vector<core::Forward>& fwd = config.forwards;
    std::vector<std::uint8_t> fwd_owner;
    for (std::size_t i = 0; i < fwd.size(); ++i) {
        fwd_owner.push_back(plan.worker_of_host(fwd[i].internal.addr));
        for (std::size_t j = 0; j < i; ++j)
            if (fwd[j].external.port == fwd[i].external.port && fwd_owner[j] != fwd_owner[i]) {
                *error = "forward: two forwards on port " + std::to_string(fwd[i].external.port) +
                         " go to hosts of different workers (use --queues 1)";
                return plan;
            }
    }
    for (std::size_t i = 0; i < fwd.size(); ++i)
        plan.port_owner[fwd[i].external.port] = fwd_owner[i];
    for (std::uint32_t p = 0; p < 65536; ++p)
        if (plan.port_owner[p] != kNoWorker)
            append(plan.ports, p, p, plan.port_owner[p]);

    for (unsigned k = 0; k < workers; ++k) {
        core::NatConfig c = config;
        if (block == 0)
            c.pool.ports = slice_of(set, plan.port_owner, k);
        c.forwards.clear();
        for (std::size_t i = 0; i < fwd.size(); ++i) {
            const std::uint16_t port = fwd[i].external.port;
            // Under blocks every worker allocates from the whole set: the worker whose block
            // holds the port keeps a copy of the forward, which reserves it there too.
            const bool reserves = block != 0 && set.contains(port) && pool_owner[port] == k;
            if (fwd_owner[i] == k || reserves)
                c.forwards.push_back(fwd[i]);
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

std::vector<core::PortRange> nat_ports(const core::NatConfig& config) {
    std::vector<core::PortRange> ports = config.pool.ports.ranges();
    for (const core::Forward& f : config.forwards)
        ports.push_back({f.external.port, f.external.port});
    return core::PortSet::from_ranges(ports).ranges();
}

} // namespace conenat::engine
