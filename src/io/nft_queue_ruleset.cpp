#include "nft_queue_ruleset.hpp"

#include "nft_common.hpp"
#include "nft_objects.hpp"
#include "nft_rule_builder.hpp"

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <optional>
#include <span>

namespace conenat::io::detail {

namespace {

using core::Proto;

constexpr std::uint32_t kTypeIpv4 = 7, kTypeInetProto = 12, kTypeInetService = 13;
constexpr std::uint8_t kIcmpEchoReply = 0;
// ICMP errors whose quoted packet names one of our mappings (RFC 5508 §4.2).
constexpr std::uint8_t kIcmpErrors[] = {3, 11, 12};
// Offsets in an ICMP error, from the ICMP header: the quoted IPv4 header at 8 (its first byte,
// 0x45 when it has no options; protocol at 17; destination at 24), its transport header at 28
// (ports 28 / 30, or an echo's identifier at 32).
constexpr std::uint32_t kQuotedVersionIhl = 8, kQuotedProto = 17, kQuotedDaddr = 24, kQuotedSport = 28,
                        kQuotedEchoId = 32;

// Interval elements for ranges of `width`-byte keys (sorted, disjoint): a start element per
// range and an end element one past it, also where the next range starts (as nft encodes it:
// the kernel's rbtree refuses two starts in a row), and an end element at 0 first when the
// first range does not start at 0.
std::vector<SetElem> interval_elems(const std::vector<KeyRange>& ranges, unsigned width,
                                 const std::function<std::string(unsigned)>& chain_of) {
    const std::uint64_t top = width == 2 ? 0xffff : 0xffffffffu;
    auto key = [&](std::uint64_t v) { return width == 2 ? be16(std::uint32_t(v)) : be32(std::uint32_t(v)); };
    std::vector<SetElem> out;
    if (!ranges.empty() && ranges.front().first > 0)
        out.push_back({key(0), true, {}});
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        const KeyRange& r = ranges[i];
        out.push_back({key(r.first), false, chain_of ? chain_of(r.worker) : std::string{}});
        if (r.last < top)
            out.push_back({key(std::uint64_t(r.last) + 1), true, {}});
    }
    return out;
}

class QueueInstaller {
public:
    QueueInstaller(NftBatch& batch, const QueueRuleSpec& spec) : m_batch(batch), m_spec(spec) {}
    Status run();

private:
    std::uint32_t add_set(const std::string& name, std::uint32_t flags, std::uint32_t key_type, std::uint32_t key_len,
                          bool verdict_map, const std::vector<SetElem>& elems) {
        const std::uint32_t id = m_next_set_id++;
        detail::add_set(m_batch, m_spec.table, id,
                        {name, flags | (verdict_map ? std::uint32_t(NFT_SET_MAP) : 0u), key_type, key_len,
                         verdict_map ? std::uint32_t(NFT_DATA_VERDICT) : 0u, 0},
                        elems);
        return id;
    }
    std::uint32_t anon_set(std::uint32_t flags, std::uint32_t key_type, std::uint32_t key_len,
                           const std::vector<SetElem>& elems) {
        return add_set(kAnonSet, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | flags, key_type, key_len, false, elems);
    }
    AnonSet anon() {
        return [this](std::uint32_t type, const std::vector<SetElem>& elems) { return anon_set(0, type, 1, elems); };
    }
    Status add_rule(RuleBuilder& rule, const std::string& what) { return detail::add_rule(m_batch, rule, what); }

    void name_match(RuleBuilder& r, std::uint32_t meta_key, std::uint32_t op);
    void saddr_internal(RuleBuilder& r);
    void daddr_external(RuleBuilder& r);
    void mark_set(RuleBuilder& r);
    void tcp_or_udp(RuleBuilder& r);
    void icmp_type_in(RuleBuilder& r, std::span<const std::uint8_t> types);
    // `base` at `offset`, `len` bytes, masked to the host key when `mask_host`, then a verdict map.
    void dispatch(RuleBuilder& r, std::uint32_t base, std::uint32_t offset, std::uint32_t len, const std::string& map,
                  std::uint32_t map_id);
    void dispatch_host(RuleBuilder& r, std::uint32_t base, std::uint32_t offset, const std::string& map,
                       std::uint32_t map_id);

    Status worker_chains();
    Status inbound_rules(const std::string& chain, bool handed_on, const std::string& map, std::uint32_t map_id);
    Status pre_rules();
    Status post_rules();
    Status output_rules();

    NftBatch& m_batch;
    const QueueRuleSpec& m_spec;
    std::uint32_t m_next_set_id = 1;
    std::uint32_t m_external_id = 0, m_in_ports = 0, m_hp_ports = 0, m_out_hosts = 0, m_hp_hosts = 0;
};

void QueueInstaller::name_match(RuleBuilder& r, std::uint32_t meta_key, std::uint32_t op) {
    ifname_match(r, meta_key, op, m_spec.wan_if);
}

void QueueInstaller::saddr_internal(RuleBuilder& r) {
    prefix_match(r, NFT_PAYLOAD_NETWORK_HEADER, 12, m_spec.internal_net, m_spec.internal_prefix);
}

void QueueInstaller::daddr_external(RuleBuilder& r) {
    addr_in_set(r, 16, std::string(kQueueSetExternal), m_external_id);
}

void QueueInstaller::mark_set(RuleBuilder& r) {
    mark_match(r, m_spec.mark, m_spec.mark);
}

void QueueInstaller::tcp_or_udp(RuleBuilder& r) { tcp_or_udp_match(r, anon()); }

void QueueInstaller::icmp_type_in(RuleBuilder& r, std::span<const std::uint8_t> types) {
    icmp_type_match(r, types, anon());
}

void QueueInstaller::dispatch(RuleBuilder& r, std::uint32_t base, std::uint32_t offset, std::uint32_t len,
                              const std::string& map, std::uint32_t map_id) {
    r.payload(base, offset, len, kReg).lookup(kReg, map, map_id, NFT_REG_VERDICT);
}

// The internal host's key: its address, or only its last byte.
void QueueInstaller::dispatch_host(RuleBuilder& r, std::uint32_t base, std::uint32_t offset, const std::string& map,
                                   std::uint32_t map_id) {
    r.payload(base, offset, 4, kReg);
    if (m_spec.host_key == QueueRuleSpec::HostKey::LowByte)
        r.mask(kReg, be32(0xff));
    r.lookup(kReg, map, map_id, NFT_REG_VERDICT);
}

Status QueueInstaller::worker_chains() {
    for (unsigned k = 0; k < m_spec.workers; ++k) {
        // Untracked only once queued: a packet no worker takes stays the kernel's.
        RuleBuilder in(m_spec.table, worker_chain("in", k));
        in.notrack().counter().queue(m_spec.main_queue(k), m_spec.native_queue, m_spec.bypass);
        CONENAT_TRY(add_rule(in, "rule of chain " + worker_chain("in", k)));
        RuleBuilder out(m_spec.table, worker_chain("out", k));
        out.counter().queue(m_spec.main_queue(k), m_spec.native_queue, m_spec.bypass);
        CONENAT_TRY(add_rule(out, "rule of chain " + worker_chain("out", k)));
        RuleBuilder hp(m_spec.table, worker_chain("hp", k));
        hp.notrack().counter().queue(m_spec.hairpin_queue(k), m_spec.native_queue, m_spec.bypass);
        CONENAT_TRY(add_rule(hp, "rule of chain " + worker_chain("hp", k)));
    }
    return {};
}

// The four ways an inbound packet names its external port: TCP/UDP destination port, echo
// reply identifier, and the source port (or echo identifier) of the packet an ICMP error quotes.
Status QueueInstaller::inbound_rules(const std::string& chain, bool handed_on, const std::string& map,
                                     std::uint32_t map_id) {
    const std::string what = " of chain " + chain + (handed_on ? " (hairpin, second half)" : " (inbound)");
    for (int kind = 0; kind < 4; ++kind) {
        if (handed_on && kind == 1)
            continue; // echo requests to our addresses are the router's: no hairpinned echo reply
        RuleBuilder r(m_spec.table, chain);
        if (handed_on)
            mark_set(r);
        daddr_external(r);
        switch (kind) {
        case 0:
            tcp_or_udp(r);
            dispatch(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, map, map_id);
            break;
        case 1:
            icmp_type_in(r, std::span(&kIcmpEchoReply, 1));
            dispatch(r, NFT_PAYLOAD_TRANSPORT_HEADER, 4, 2, map, map_id);
            break;
        default: {
            icmp_type_in(r, kIcmpErrors);
            // A quoted header with options moves the ports: those errors stay the router's.
            r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, kQuotedVersionIhl, 1, kReg).cmp_u8(kReg, NFT_CMP_EQ, 0x45);
            r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, kQuotedProto, 1, kReg);
            if (kind == 2) {
                r.lookup(kReg, kAnonSet,
                         anon_set(0, kTypeInetProto, 1,
                                  {{{std::uint8_t(Proto::Tcp)}, false, {}}, {{std::uint8_t(Proto::Udp)}, false, {}}}));
                dispatch(r, NFT_PAYLOAD_TRANSPORT_HEADER, kQuotedSport, 2, map, map_id);
            } else {
                r.cmp_u8(kReg, NFT_CMP_EQ, std::uint8_t(Proto::Icmp));
                dispatch(r, NFT_PAYLOAD_TRANSPORT_HEADER, kQuotedEchoId, 2, map, map_id);
            }
        }
        }
        CONENAT_TRY(add_rule(r, "rule " + std::to_string(kind + 1) + what));
    }
    return {};
}

Status QueueInstaller::pre_rules() {
    const std::string chain(kQueueChainPre);
    {   // An internal source arriving on the WAN is spoofed (RFC 2827 ingress filtering): it
        // must never reach the core, where it would look inbound (or hairpinned) and open,
        // refresh or close state. Dropped and counted before anything else.
        RuleBuilder r(m_spec.table, chain);
        name_match(r, NFT_META_IIFNAME, NFT_CMP_EQ);
        saddr_internal(r);
        daddr_external(r);
        r.counter().verdict(NF_DROP);
        CONENAT_TRY(add_rule(r, "spoofed-source rule of chain " + chain));
    }
    {   // The router's own flows (and services bound to our addresses) keep conntrack and
        // local delivery: a packet with a local socket is never the NAT's.
        RuleBuilder r(m_spec.table, chain);
        daddr_external(r);
        r.socket(NFT_SOCKET_TRANSPARENT, kReg).cmp_u8(kReg, NFT_CMP_LTE, 1).verdict(NF_ACCEPT);
        CONENAT_TRY(add_rule(r, "rule 1 of chain " + chain + " (local sockets)"));
    }
    CONENAT_TRY(inbound_rules(chain, true, std::string(kMapHairpinPorts), m_hp_ports));
    {   // Hairpinning (RFC 4787 REQ-9): from inside to one of our external endpoints.
        RuleBuilder r(m_spec.table, chain);
        name_match(r, NFT_META_IIFNAME, NFT_CMP_NEQ);
        saddr_internal(r);
        daddr_external(r);
        tcp_or_udp(r);
        const std::uint32_t pool_id = anon_set(NFT_SET_INTERVAL, kTypeInetService, 2, port_intervals(m_spec.pool));
        r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, kReg).lookup(kReg, kAnonSet, pool_id);
        dispatch_host(r, NFT_PAYLOAD_NETWORK_HEADER, 12, std::string(kMapHairpinHosts), m_hp_hosts);
        CONENAT_TRY(add_rule(r, "hairpin rule of chain " + chain));
    }
    {   // ICMP errors from inside about hairpinned packets (RFC 5508 REQ-7).
        RuleBuilder r(m_spec.table, chain);
        name_match(r, NFT_META_IIFNAME, NFT_CMP_NEQ);
        saddr_internal(r);
        daddr_external(r);
        icmp_type_in(r, kIcmpErrors);
        dispatch_host(r, NFT_PAYLOAD_NETWORK_HEADER, 12, std::string(kMapHairpinHosts), m_hp_hosts);
        CONENAT_TRY(add_rule(r, "hairpin ICMP rule of chain " + chain));
    }
    CONENAT_TRY(inbound_rules(chain, false, std::string(kMapInPorts), m_in_ports));
    {   // Outbound: out of conntrack here (before it), translated in postrouting.
        RuleBuilder r(m_spec.table, chain);
        name_match(r, NFT_META_IIFNAME, NFT_CMP_NEQ);
        saddr_internal(r);
        r.fib(NFTA_FIB_F_DADDR, NFT_FIB_RESULT_OIFNAME, kReg).cmp(kReg, NFT_CMP_EQ, ifname_bytes(m_spec.wan_if));
        r.notrack();
        CONENAT_TRY(add_rule(r, "outbound rule of chain " + chain));
    }
    return {};
}

Status QueueInstaller::post_rules() {
    const std::string chain(kQueueChainPost);
    {
        RuleBuilder r(m_spec.table, chain);
        name_match(r, NFT_META_OIFNAME, NFT_CMP_EQ);
        saddr_internal(r);
        ct_bits(r, NFT_CT_STATE, NF_CT_STATE_UNTRACKED_BIT, NFT_CMP_NEQ);
        dispatch_host(r, NFT_PAYLOAD_NETWORK_HEADER, 12, std::string(kMapOutHosts), m_out_hosts);
        CONENAT_TRY(add_rule(r, "outbound rule of chain " + chain));
    }
    {   // The router's own ICMP errors about inbound packets (e.g. fragmentation needed on the
        // LAN link) quote the translated packet: they go out through the NAT as well.
        RuleBuilder r(m_spec.table, chain);
        name_match(r, NFT_META_OIFNAME, NFT_CMP_EQ);
        addr_in_set(r, 12, std::string(kQueueSetExternal), m_external_id);
        icmp_type_in(r, kIcmpErrors);
        prefix_match(r, NFT_PAYLOAD_TRANSPORT_HEADER, kQuotedDaddr, m_spec.internal_net, m_spec.internal_prefix);
        dispatch_host(r, NFT_PAYLOAD_TRANSPORT_HEADER, kQuotedDaddr, std::string(kMapOutHosts), m_out_hosts);
        CONENAT_TRY(add_rule(r, "router ICMP rule of chain " + chain));
    }
    return {};
}

// What the daemon sends itself (re-injected hairpinned packets, ICMP errors) needs no conntrack.
Status QueueInstaller::output_rules() {
    RuleBuilder r(m_spec.table, std::string(kQueueChainOutput));
    mark_set(r);
    r.notrack();
    return add_rule(r, "rule of chain " + std::string(kQueueChainOutput));
}

Status QueueInstaller::run() {
    replace_table(m_batch, m_spec.table);

    for (unsigned k = 0; k < m_spec.workers; ++k)
        for (const char* kind : {"in", "out", "hp"})
            add_chain(m_batch, m_spec.table, worker_chain(kind, k), std::nullopt);
    add_chain(m_batch, m_spec.table, std::string(kQueueChainPre), BaseChain{"filter", NF_INET_PRE_ROUTING, kQueuePrioPre});
    add_chain(m_batch, m_spec.table, std::string(kQueueChainPost), BaseChain{"filter", NF_INET_POST_ROUTING, kQueuePrioPost});
    add_chain(m_batch, m_spec.table, std::string(kQueueChainOutput),
              BaseChain{"filter", NF_INET_LOCAL_OUT, kQueuePrioOutput});

    std::vector<SetElem> external;
    for (core::Ipv4 a : m_spec.external_addrs)
        external.push_back({be32(a), false, {}});
    m_external_id = add_set(std::string(kQueueSetExternal), 0, kTypeIpv4, 4, false, external);

    auto goto_chain = [](const char* kind) { return [kind](unsigned w) { return worker_chain(kind, w); }; };
    m_in_ports = add_set(std::string(kMapInPorts), NFT_SET_INTERVAL, kTypeInetService, 2, true,
                         interval_elems(m_spec.ports, 2, goto_chain("in")));
    m_hp_ports = add_set(std::string(kMapHairpinPorts), NFT_SET_INTERVAL, kTypeInetService, 2, true,
                         interval_elems(m_spec.ports, 2, goto_chain("hp")));
    const bool by_address = m_spec.host_key == QueueRuleSpec::HostKey::Address;
    auto host_elems = [&](const char* kind) {
        if (by_address)
            return interval_elems(m_spec.hosts, 4, goto_chain(kind));
        std::vector<SetElem> elems; // one per last byte
        for (const KeyRange& r : m_spec.hosts)
            for (std::uint32_t b = r.first; b <= r.last && b <= 0xff; ++b)
                elems.push_back({be32(b), false, worker_chain(kind, r.worker)});
        return elems;
    };
    const std::uint32_t host_flags = by_address ? NFT_SET_INTERVAL : 0;
    m_out_hosts = add_set(std::string(kMapOutHosts), host_flags, kTypeIpv4, 4, true, host_elems("out"));
    m_hp_hosts = add_set(std::string(kMapHairpinHosts), host_flags, kTypeIpv4, 4, true, host_elems("hp"));

    CONENAT_TRY(worker_chains());
    CONENAT_TRY(pre_rules());
    CONENAT_TRY(post_rules());
    CONENAT_TRY(output_rules());
    m_batch.end();
    return {};
}

} // namespace

std::string worker_chain(std::string_view kind, unsigned worker) {
    return std::string(kind) + std::to_string(worker);
}

Status build_queue_install(NftBatch& batch, const QueueRuleSpec& spec) {
    if (spec.workers == 0 || spec.wan_if.empty())
        return Error{"nftables: a queue rule set needs a WAN interface and at least one worker"};
    return QueueInstaller(batch, spec).run();
}

} // namespace conenat::io::detail
