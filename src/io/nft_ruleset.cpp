#include "nft_ruleset.hpp"

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
    {kChainDnat, "nat", NF_INET_PRE_ROUTING, -102},
    {kChainDnatQueue, "nat", NF_INET_PRE_ROUTING, -101},
    {kChainSnat, "nat", NF_INET_POST_ROUTING, 98},
    {kChainSnatQueue, "nat", NF_INET_POST_ROUTING, 99},
    {kChainGuard, "filter", NF_INET_POST_ROUTING, 110}, // after nat (100): judge the binding
};

constexpr std::uint32_t kReg = NFT_REG32_00; // scratch register of every match
constexpr std::uint8_t kIcmpEchoRequest = 8;
constexpr const char* kAnonSet = "__set%d";  // the kernel names anonymous sets itself

struct SetElem {
    std::vector<std::uint8_t> key;
    bool interval_end = false;
};

// Builds the table's messages; tracks set ids for references inside the batch.
class Installer {
public:
    Installer(NftBatch& batch, const RuleSetSpec& spec) : m_batch(batch), m_spec(spec) {}

    Status run();

private:
    void table_messages();
    std::uint32_t add_set(const std::string& name, std::uint32_t flags, std::uint32_t key_type, std::uint32_t key_len,
                          std::uint32_t data_type, std::uint32_t data_len, const std::vector<SetElem>& elems);
    std::uint32_t anon_set(std::uint32_t flags, std::uint32_t key_type, std::uint32_t key_len,
                           const std::vector<SetElem>& elems) {
        return add_set(kAnonSet, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | flags, key_type, key_len, 0, 0, elems);
    }
    void add_chain(const ChainSpec& c);
    Status add_rule(RuleBuilder& rule, std::string what);

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

    NftBatch& m_batch;
    const RuleSetSpec& m_spec;
    std::uint32_t m_next_set_id = 1;
    std::uint32_t m_external_id = 0;
};

std::string str(std::string_view s) {
    return std::string(s);
}

std::vector<std::uint8_t> be16(std::uint16_t v) {
    return {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

std::vector<std::uint8_t> be32(std::uint32_t v) {
    return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 8),
            static_cast<std::uint8_t>(v)};
}

// Interval-set elements of the port ranges: start keys, and end keys one past each range
// (an end element at 0 first, as nft writes it, when the first range does not start at 0).
std::vector<SetElem> port_intervals(std::vector<core::PortRange> ranges) {
    std::sort(ranges.begin(), ranges.end(), [](auto& a, auto& b) { return a.first < b.first; });
    std::vector<core::PortRange> merged;
    for (const auto& r : ranges) {
        if (r.first > r.last)
            continue;
        if (!merged.empty() && std::uint32_t(r.first) <= std::uint32_t(merged.back().last) + 1)
            merged.back().last = std::max(merged.back().last, r.last);
        else
            merged.push_back(r);
    }
    std::vector<SetElem> elems;
    if (!merged.empty() && merged.front().first > 0)
        elems.push_back({be16(0), true});
    for (const auto& r : merged) {
        elems.push_back({be16(r.first), false});
        if (r.last < 0xffff)
            elems.push_back({be16(static_cast<std::uint16_t>(r.last + 1)), true});
    }
    return elems;
}

} // namespace

const ChainSpec* chains(std::size_t* count) {
    *count = std::size(kChains);
    return kChains;
}

void Installer::table_messages() {
    auto fill = [&](nlmsghdr* nlh) {
        NftnlPtr<nftnl_table> t(nftnl_table_alloc());
        nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, m_spec.table.c_str());
        nftnl_table_nlmsg_build_payload(nlh, t.get());
    };
    const std::string what = "table " + m_spec.table;
    // "add; delete; add" replaces the table whether or not it exists, in one transaction.
    m_batch.add(NFT_MSG_NEWTABLE, NLM_F_CREATE, what, fill);
    m_batch.add(NFT_MSG_DELTABLE, 0, "delete " + what, fill);
    m_batch.add(NFT_MSG_NEWTABLE, NLM_F_CREATE, what, fill);
}

std::uint32_t Installer::add_set(const std::string& name, std::uint32_t flags, std::uint32_t key_type,
                                 std::uint32_t key_len, std::uint32_t data_type, std::uint32_t data_len,
                                 const std::vector<SetElem>& elems) {
    const std::uint32_t id = m_next_set_id++;
    NftnlPtr<nftnl_set> s(nftnl_set_alloc());
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, m_spec.table.c_str());
    nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
    nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, NFPROTO_IPV4);
    nftnl_set_set_u32(s.get(), NFTNL_SET_ID, id);
    nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, flags);
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, key_type);
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, key_len);
    if (flags & NFT_SET_MAP) {
        nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, data_type);
        nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, data_len);
    }
    if (flags & NFT_SET_CONSTANT)
        nftnl_set_set_u32(s.get(), NFTNL_SET_DESC_SIZE, static_cast<std::uint32_t>(elems.size()));
    const std::string what = (flags & NFT_SET_ANONYMOUS) ? "anonymous set" : (flags & NFT_SET_MAP ? "map " : "set ") + name;
    m_batch.add(NFT_MSG_NEWSET, NLM_F_CREATE, what, [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, s.get()); });
    if (elems.empty())
        return id;
    for (const SetElem& e : elems) {
        nftnl_set_elem* el = nftnl_set_elem_alloc();
        nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, e.key.data(), static_cast<std::uint32_t>(e.key.size()));
        if (e.interval_end)
            nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
        nftnl_set_elem_add(s.get(), el); // the set owns it
    }
    m_batch.add(NFT_MSG_NEWSETELEM, NLM_F_CREATE, "elements of " + what,
                [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s.get()); });
    return id;
}

void Installer::add_chain(const ChainSpec& c) {
    NftnlPtr<nftnl_chain> ch(nftnl_chain_alloc());
    nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TABLE, m_spec.table.c_str());
    nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_NAME, str(c.name).c_str());
    nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TYPE, str(c.type).c_str());
    nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_HOOKNUM, c.hook);
    nftnl_chain_set_s32(ch.get(), NFTNL_CHAIN_PRIO, c.priority);
    nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
    m_batch.add(NFT_MSG_NEWCHAIN, NLM_F_CREATE, "chain " + str(c.name),
                [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, ch.get()); });
}

Status Installer::add_rule(RuleBuilder& rule, std::string what) {
    if (!rule.ok())
        return Error{"nftables: out of memory building " + what};
    m_batch.add(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, std::move(what),
                [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, rule.get()); });
    return {};
}

void Installer::oifname(RuleBuilder& r) {
    if (m_spec.wan_if.empty())
        return;
    std::array<std::uint8_t, 16> name{}; // IFNAMSIZ, zero-padded: an exact match
    std::memcpy(name.data(), m_spec.wan_if.data(), std::min<std::size_t>(m_spec.wan_if.size(), 15));
    r.meta(NFT_META_OIFNAME, NFT_REG_1).cmp(NFT_REG_1, NFT_CMP_EQ, name);
}

void Installer::saddr_internal(RuleBuilder& r) {
    const unsigned prefix = std::min<unsigned>(m_spec.internal_prefix, 32);
    if (prefix == 0)
        return;
    const std::uint32_t mask = prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
    r.payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, kReg);
    if (prefix < 32)
        r.mask(kReg, be32(mask));
    r.cmp(kReg, NFT_CMP_EQ, be32(m_spec.internal_net & mask));
}

void Installer::daddr_external(RuleBuilder& r) {
    r.payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4, kReg).lookup(kReg, str(kSetExternal), m_external_id);
}

void Installer::l4proto(RuleBuilder& r, Proto p) {
    r.meta(NFT_META_L4PROTO, kReg).cmp_u8(kReg, NFT_CMP_EQ, static_cast<std::uint8_t>(p));
}

void Installer::l4proto_in(RuleBuilder& r, std::initializer_list<Proto> protos) {
    std::vector<SetElem> elems;
    for (Proto p : protos)
        elems.push_back({{static_cast<std::uint8_t>(p)}, false});
    const std::uint32_t id = anon_set(0, kTypeInetProto, 1, elems);
    r.meta(NFT_META_L4PROTO, kReg).lookup(kReg, kAnonSet, id);
}

void Installer::dport_in_pool(RuleBuilder& r) {
    std::vector<SetElem> elems = port_intervals(m_spec.ports);
    if (elems.empty())
        return; // no pool restriction
    const std::uint32_t id = anon_set(NFT_SET_INTERVAL, kTypeInetService, 2, elems);
    r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, kReg).lookup(kReg, kAnonSet, id);
}

void Installer::ct_status(RuleBuilder& r, std::uint32_t bit, bool set) {
    std::uint8_t mask[4];
    std::memcpy(mask, &bit, 4); // ct status is host byte order
    r.ct(NFT_CT_STATUS, kReg).mask(kReg, mask).cmp_u32(kReg, set ? NFT_CMP_NEQ : NFT_CMP_EQ, 0);
}

void Installer::mark_set(RuleBuilder& r, std::uint32_t mark) {
    std::uint8_t mask[4];
    std::memcpy(mask, &mark, 4); // meta mark is host byte order
    r.meta(NFT_META_MARK, kReg).mask(kReg, mask).cmp_u32(kReg, NFT_CMP_EQ, mark);
}

// The daemon marks every packet it sends round again: a queue rule never takes it twice.
void Installer::mark_unset(RuleBuilder& r, std::uint32_t mark) {
    std::uint8_t mask[4];
    std::memcpy(mask, &mark, 4);
    r.meta(NFT_META_MARK, kReg).mask(kReg, mask).cmp_u32(kReg, NFT_CMP_EQ, 0);
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

Status Installer::run() {
    table_messages();
    std::vector<SetElem> external;
    for (core::Ipv4 a : m_spec.external_addrs)
        external.push_back({be32(a), false});
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
        add_chain(c);
    CONENAT_TRY(dnat_rules());
    CONENAT_TRY(dnat_queue_rules());
    CONENAT_TRY(snat_rules());
    CONENAT_TRY(snat_queue_rules());
    CONENAT_TRY(guard_rules());
    m_batch.end();
    return {};
}

Status build_install(NftBatch& batch, const RuleSetSpec& spec) {
    return Installer(batch, spec).run();
}

Status build_queue_probe(NftBatch& batch, const std::string& table) {
    auto table_fill = [&](nlmsghdr* nlh) {
        NftnlPtr<nftnl_table> t(nftnl_table_alloc());
        nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
        nftnl_table_nlmsg_build_payload(nlh, t.get());
    };
    batch.add(NFT_MSG_NEWTABLE, NLM_F_CREATE, "probe table " + table, table_fill);
    NftnlPtr<nftnl_chain> ch(nftnl_chain_alloc());
    nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TABLE, table.c_str());
    nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_NAME, "probe");
    batch.add(NFT_MSG_NEWCHAIN, NLM_F_CREATE, "probe chain",
              [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, ch.get()); });
    RuleBuilder r(table, "probe");
    r.queue(0, true);
    if (!r.ok())
        return Error{"nftables: out of memory building the queue probe"};
    batch.add(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, "probe queue rule",
              [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, r.get()); });
    batch.add(NFT_MSG_DELTABLE, 0, "delete probe table " + table, table_fill);
    batch.end();
    return {};
}

} // namespace conenat::io::detail
