#include "nft_ruleset.hpp"

#include "nft_common.hpp"
#include "nft_layout.hpp"
#include "nft_objects.hpp"
#include "nft_rule_builder.hpp"

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace conenat::io::detail {

namespace {

using core::Proto;

constexpr ChainSpec kChains[] = {
    {kChainSpoofGuard, "filter", NF_INET_PRE_ROUTING, -300}, // raw: before conntrack sees it
    {kChainDnat, "nat", NF_INET_PRE_ROUTING, -102},
    {kChainDnatQueue, "nat", NF_INET_PRE_ROUTING, -101},
    {kChainSnat, "nat", NF_INET_POST_ROUTING, 98},
    {kChainSnatQueue, "nat", NF_INET_POST_ROUTING, 99},
    {kChainGuard, "filter", NF_INET_POST_ROUTING, 110}, // after nat (100): judge the binding
};

constexpr std::uint8_t kIcmpEchoRequest = 8;

// Builds the table's messages; tracks set ids for references inside the batch.
class Installer {
public:
    Installer(NftBatch& batch, const RuleSetSpec& spec) : m_batch(batch), m_spec(spec) {}

    Status run();

private:
    std::uint32_t add_set(const std::string& name, std::uint32_t flags, std::uint32_t key_type, std::uint32_t key_len,
                          std::uint32_t data_type, std::uint32_t data_len, const std::vector<SetElem>& elems) {
        const std::uint32_t id = m_next_set_id++;
        detail::add_set(m_batch, m_spec.table, id, {name, flags, key_type, key_len, data_type, data_len}, elems);
        return id;
    }
    std::uint32_t anon_set(std::uint32_t flags, std::uint32_t key_type, std::uint32_t key_len,
                           const std::vector<SetElem>& elems) {
        return add_set(kAnonSet, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | flags, key_type, key_len, 0, 0, elems);
    }
    Status add_rule(RuleBuilder& rule, std::string what) { return detail::add_rule(m_batch, rule, std::move(what)); }

    // Matches (each leaves the scratch register free again).
    void oifname(RuleBuilder& r);
    void saddr_internal(RuleBuilder& r);
    void daddr_external(RuleBuilder& r);
    void l4proto(RuleBuilder& r, Proto p);
    void l4proto_in(RuleBuilder& r, std::initializer_list<Proto> protos);
    void dport_in_pool(RuleBuilder& r);
    void ct_status(RuleBuilder& r, std::uint32_t bit, bool set);
    void mark_set(RuleBuilder& r, std::uint32_t mark);
    void mark_unset(RuleBuilder& r, std::uint32_t mark);
    void echo_request(RuleBuilder& r);
    void map_nat(RuleBuilder& r, const std::vector<Field>& key, Proto p, std::string_view map, std::uint32_t type);

    Status dnat_rules();
    Status dnat_queue_rules();
    Status snat_rules();
    Status snat_queue_rules();
    Status guard_rules();
    Status spoof_guard_rules();

    NftBatch& m_batch;
    const RuleSetSpec& m_spec;
    std::uint32_t m_next_set_id = 1;
    std::uint32_t m_external_id = 0;
};

std::string str(std::string_view s) {
    return std::string(s);
}

} // namespace

const ChainSpec* chains(std::size_t* count) {
    *count = std::size(kChains);
    return kChains;
}

void Installer::oifname(RuleBuilder& r) {
    if (!m_spec.wan_if.empty())
        ifname_match(r, NFT_META_OIFNAME, NFT_CMP_EQ, m_spec.wan_if, NFT_REG_1);
}

void Installer::saddr_internal(RuleBuilder& r) {
    saddr_match(r, m_spec.internal_net, m_spec.internal_prefix);
}

void Installer::daddr_external(RuleBuilder& r) {
    addr_in_set(r, 16, str(kSetExternal), m_external_id);
}

void Installer::l4proto(RuleBuilder& r, Proto p) {
    l4proto_match(r, static_cast<std::uint8_t>(p));
}

void Installer::l4proto_in(RuleBuilder& r, std::initializer_list<Proto> protos) {
    std::vector<SetElem> elems;
    for (Proto p : protos)
        elems.push_back({{static_cast<std::uint8_t>(p)}, false, {}});
    const std::uint32_t id = anon_set(0, kTypeInetProto, 1, elems);
    r.meta(NFT_META_L4PROTO, kReg).lookup(kReg, kAnonSet, id);
}

void Installer::dport_in_pool(RuleBuilder& r) {
    std::vector<SetElem> elems = port_intervals(m_spec.pool);
    if (elems.empty())
        return; // no pool restriction
    const std::uint32_t id = anon_set(NFT_SET_INTERVAL, kTypeInetService, 2, elems);
    r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, kReg).lookup(kReg, kAnonSet, id);
}

void Installer::ct_status(RuleBuilder& r, std::uint32_t bit, bool set) {
    ct_bits(r, NFT_CT_STATUS, bit, set ? NFT_CMP_NEQ : NFT_CMP_EQ);
}

void Installer::mark_set(RuleBuilder& r, std::uint32_t mark) {
    mark_match(r, mark, mark);
}

// The daemon marks every packet it sends round again: a queue rule never takes it twice.
void Installer::mark_unset(RuleBuilder& r, std::uint32_t mark) {
    mark_match(r, mark, 0);
}

void Installer::echo_request(RuleBuilder& r) {
    l4proto(r, Proto::Icmp);
    r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, kReg).cmp_u8(kReg, NFT_CMP_EQ, kIcmpEchoRequest);
}

// Loads the key fields into consecutive 32-bit registers, looks the map up into the same
// registers (address, then port) and NATs to that endpoint.
void Installer::map_nat(RuleBuilder& r, const std::vector<Field>& key, Proto p, std::string_view map,
                        std::uint32_t type) {
    std::uint32_t reg = NFT_REG32_00;
    for (Field f : key) {
        const PayloadRef ref = payload_of(f, p);
        r.payload(ref.base, ref.offset, ref.len, reg++);
    }
    r.lookup(NFT_REG32_00, str(map), std::nullopt, NFT_REG32_00).nat(type, NFT_REG32_00, NFT_REG32_01);
}

Status Installer::dnat_rules() {
    const std::string chain = str(kChainDnat);
    for (Proto p : {Proto::Udp, Proto::Tcp}) {
        RuleBuilder r(m_spec.table, chain);
        daddr_external(r);
        if (p == Proto::Udp ? m_spec.udp_filters : m_spec.tcp_filters)
            mark_set(r, m_spec.permit_mark);
        l4proto(r, p);
        dport_in_pool(r);
        map_nat(r, dnat_key(), p, dnat_map(p), NFT_NAT_DNAT);
        CONENAT_TRY(add_rule(r, "rule " + str(proto_name(p)) + " of chain " + chain));
    }
    return {};
}

Status Installer::dnat_queue_rules() {
    const std::string chain = str(kChainDnatQueue);
    RuleBuilder r(m_spec.table, chain);
    daddr_external(r);
    l4proto_in(r, {Proto::Udp, Proto::Tcp});
    dport_in_pool(r);
    mark_unset(r, m_spec.permit_mark);
    r.counter().queue(m_spec.queue_in, m_spec.native_queue);
    return add_rule(r, "rule of chain " + chain);
}

Status Installer::snat_rules() {
    const std::string chain = str(kChainSnat);
    for (bool hairpin : {false, true}) {
        for (Proto p : {Proto::Udp, Proto::Tcp, Proto::Icmp}) {
            const core::Behaviour mapping = p == Proto::Udp   ? m_spec.udp_mapping
                                            : p == Proto::Tcp ? m_spec.tcp_mapping
                                                              : m_spec.icmp_mapping;
            RuleBuilder r(m_spec.table, chain);
            if (hairpin)
                ct_status(r, IPS_DST_NAT, true);
            else
                oifname(r);
            saddr_internal(r);
            if (p == Proto::Icmp)
                echo_request(r);
            else
                l4proto(r, p);
            map_nat(r, snat_key(p, mapping), p, snat_map(p), NFT_NAT_SNAT);
            CONENAT_TRY(add_rule(r, "rule " + str(proto_name(p)) + (hairpin ? " (hairpin)" : "") + " of chain " + chain));
        }
    }
    return {};
}

Status Installer::snat_queue_rules() {
    const std::string chain = str(kChainSnatQueue);
    for (int i = 0; i < 3; ++i) {
        RuleBuilder r(m_spec.table, chain);
        if (i == 2)
            ct_status(r, IPS_DST_NAT, true);
        else
            oifname(r);
        saddr_internal(r);
        if (i == 1)
            echo_request(r);
        else
            l4proto_in(r, {Proto::Udp, Proto::Tcp});
        mark_unset(r, m_spec.permit_mark);
        r.counter().queue(m_spec.queue_out, m_spec.native_queue);
        CONENAT_TRY(add_rule(r, "rule " + std::to_string(i + 1) + " of chain " + chain));
    }
    return {};
}

Status Installer::guard_rules() {
    const std::string chain = str(kChainGuard);
    RuleBuilder r(m_spec.table, chain);
    oifname(r);
    saddr_internal(r);
    l4proto_in(r, {Proto::Udp, Proto::Tcp, Proto::Icmp});
    ct_status(r, IPS_SRC_NAT, false);
    r.counter().verdict(NF_DROP);
    return add_rule(r, "rule of chain " + chain);
}

// A source inside the internal network arriving on the WAN is spoofed: dropped before
// conntrack, so it never creates, refreshes or removes a flow or a mapping (it would pass
// for hairpin traffic otherwise).
Status Installer::spoof_guard_rules() {
    if (m_spec.wan_if.empty() || m_spec.internal_prefix == 0)
        return {}; // (no internal network to tell apart)
    const std::string chain = str(kChainSpoofGuard);
    RuleBuilder r(m_spec.table, chain);
    ifname_match(r, NFT_META_IIFNAME, NFT_CMP_EQ, m_spec.wan_if, NFT_REG_1);
    saddr_internal(r);
    r.counter().verdict(NF_DROP);
    return add_rule(r, "rule of chain " + chain);
}

Status Installer::run() {
    replace_table(m_batch, m_spec.table);
    std::vector<SetElem> external;
    for (core::Ipv4 a : m_spec.external_addrs)
        external.push_back({be32(a), false, {}});
    m_external_id = add_set(str(kSetExternal), 0, kTypeIpv4, 4, 0, 0, external);
    for (Proto p : {Proto::Udp, Proto::Tcp, Proto::Icmp}) {
        const core::Behaviour mapping = p == Proto::Udp   ? m_spec.udp_mapping
                                        : p == Proto::Tcp ? m_spec.tcp_mapping
                                                          : m_spec.icmp_mapping;
        const auto key = snat_key(p, mapping);
        add_set(str(snat_map(p)), NFT_SET_MAP, key_type(key), key_len(key), endpoint_type(), kEndpointLen, {});
    }
    for (Proto p : {Proto::Udp, Proto::Tcp}) {
        const auto key = dnat_key();
        add_set(str(dnat_map(p)), NFT_SET_MAP, key_type(key), key_len(key), endpoint_type(), kEndpointLen, {});
    }
    for (const ChainSpec& c : kChains)
        add_chain(m_batch, m_spec.table, str(c.name), BaseChain{c.type, c.hook, c.priority});
    CONENAT_TRY(dnat_rules());
    CONENAT_TRY(dnat_queue_rules());
    CONENAT_TRY(snat_rules());
    CONENAT_TRY(snat_queue_rules());
    CONENAT_TRY(guard_rules());
    CONENAT_TRY(spoof_guard_rules());
    m_batch.end();
    return {};
}

Status build_install(NftBatch& batch, const RuleSetSpec& spec) {
    return Installer(batch, spec).run();
}

Status build_queue_probe(NftBatch& batch, const std::string& table) {
    table_message(batch, NFT_MSG_NEWTABLE, NLM_F_CREATE, "probe table " + table, table);
    add_chain(batch, table, "probe", std::nullopt);
    RuleBuilder r(table, "probe");
    r.queue(0, true);
    if (!r.ok())
        return Error{"nftables: out of memory building the queue probe"};
    CONENAT_TRY(add_rule(batch, r, "probe queue rule"));
    table_message(batch, NFT_MSG_DELTABLE, 0, "delete probe table " + table, table);
    batch.end();
    return {};
}

} // namespace conenat::io::detail
