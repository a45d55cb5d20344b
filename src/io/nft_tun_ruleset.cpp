// The tun engine's table (tun_rules.hpp): install messages and nft text, from one list of rules.
#include "conenat/io/nftables.hpp"

#include "nft_common.hpp"
#include "nft_rule_builder.hpp"
#include "nft_tun_ruleset.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <array>
#include <cstring>
#include <functional>
#include <sstream>

namespace conenat::io::detail {

namespace {

constexpr std::uint32_t kTypeIpv4 = 7, kTypeInetService = 13;
constexpr std::string_view kChainPre = "pre", kChainOutput = "output", kChainSteer = "steer",
                           kSetExternal = "external";
constexpr int kPrioPre = -300, kPrioOutput = -300;
constexpr std::uint32_t kQuotedDaddr = 24; // in an ICMP error: the quoted header's destination
constexpr std::uint8_t kIcmpErrors[] = {3, 11, 12};

// One rule both ways: how to build it, and its nft text.
struct TunRule {
    std::string text;
    std::function<void(RuleBuilder&)> build;
};

class TunRules {
public:
    // With a batch: the set of external addresses goes into it (the rules' sets follow).
    TunRules(const TunRuleSpec& spec, NftBatch* batch) : m_spec(spec), m_batch(batch) {
        std::vector<SetElem> external;
        for (core::Ipv4 a : spec.external_addrs)
            external.push_back({be32(a), false, {}});
        m_external_id = add_set({std::string(kSetExternal), 0, kTypeIpv4, 4, 0, 0}, external);
    }

    std::vector<TunRule> pre_rules();
    std::vector<TunRule> output_rules();

private:
    std::uint32_t add_set(const SetSpec& set, const std::vector<SetElem>& elems) {
        const std::uint32_t id = m_next_set_id++;
        if (m_batch)
            detail::add_set(*m_batch, m_spec.table, id, set, elems);
        return id;
    }
    std::uint32_t anon(std::uint32_t flags, std::uint32_t type, std::uint32_t len, const std::vector<SetElem>& elems) {
        return add_set({kAnonSet, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | flags, type, len, 0, 0}, elems);
    }
    std::uint32_t pool_set() { return anon(NFT_SET_INTERVAL, kTypeInetService, 2, port_intervals(m_spec.pool)); }
    void daddr_external(RuleBuilder& r) { addr_in_set(r, 16, std::string(kSetExternal), m_external_id); }
    void icmp_type(RuleBuilder& r, std::span<const std::uint8_t> types) {
        icmp_type_match(r, types, [this](std::uint32_t type, const std::vector<SetElem>& e) { return anon(0, type, 1, e); });
    }
    static void steer(RuleBuilder& r) { r.verdict(NFT_GOTO, std::string(kChainSteer)); }
    // The IPv4 address at network header + `offset` is outside the internal net.
    void prefix_match_not(RuleBuilder& r, std::uint32_t offset) {
        r.payload(NFT_PAYLOAD_NETWORK_HEADER, offset, 4, kReg)
            .mask(kReg, be32(prefix_mask(m_spec.internal_prefix)))
            .cmp(kReg, NFT_CMP_NEQ, be32(m_spec.internal_net & prefix_mask(m_spec.internal_prefix)));
    }

    const TunRuleSpec& m_spec;
    NftBatch* m_batch;
    std::uint32_t m_next_set_id = 1;
    std::uint32_t m_external_id = 0;
};

std::vector<TunRule> TunRules::pre_rules() {
    const std::string wan = "\"" + m_spec.wan_if + "\"", tun = "\"" + m_spec.tun_if + "\"";
    const std::string internal = cidr_text(m_spec.internal_net, m_spec.internal_prefix);
    const std::string ext = "ip daddr @" + std::string(kSetExternal) + " ";
    const std::string pool = "{ " + ranges_text(m_spec.pool) + " }";
    std::vector<TunRule> rules;
    rules.push_back({"iifname " + tun + " notrack counter accept", [this](RuleBuilder& r) {
                         ifname_match(r, NFT_META_IIFNAME, NFT_CMP_EQ, m_spec.tun_if);
                         r.notrack().counter().verdict(NF_ACCEPT);
                     }});
    // An internal source arriving on the WAN is spoofed (RFC 2827 ingress filtering): never the
    // NAT's (the engine would take it for outbound or hairpinned traffic). Dropped and counted.
    rules.push_back({"iifname " + wan + " ip saddr " + internal + " " + ext + "counter drop", [this](RuleBuilder& r) {
                         ifname_match(r, NFT_META_IIFNAME, NFT_CMP_EQ, m_spec.wan_if);
                         saddr_match(r, m_spec.internal_net, m_spec.internal_prefix);
                         daddr_external(r);
                         r.counter().verdict(NF_DROP);
                     }});
    rules.push_back({ext + "ip frag-off & 0x3fff != 0 goto steer", [this](RuleBuilder& r) {
                         daddr_external(r);
                         r.payload(NFT_PAYLOAD_NETWORK_HEADER, 6, 2, kReg).mask(kReg, be16(0x3fff));
                         r.cmp(kReg, NFT_CMP_NEQ, be16(0));
                         steer(r);
                     }});
    rules.push_back({ext + "socket transparent <= 1 accept", [this](RuleBuilder& r) {
                         daddr_external(r);
                         r.socket(NFT_SOCKET_TRANSPARENT, kReg).cmp_u8(kReg, NFT_CMP_LTE, 1).verdict(NF_ACCEPT);
                     }});
    rules.push_back({ext + "meta l4proto { tcp, udp } th dport " + pool + " goto steer", [this](RuleBuilder& r) {
                         daddr_external(r);
                         tcp_or_udp_match(r, [this](std::uint32_t type, const std::vector<SetElem>& e) {
                             return anon(0, type, 1, e);
                         });
                         r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, kReg).lookup(kReg, kAnonSet, pool_set());
                         steer(r);
                     }});
    rules.push_back({ext + "icmp type echo-reply icmp id " + pool + " goto steer", [this](RuleBuilder& r) {
                         daddr_external(r);
                         const std::uint8_t reply = 0;
                         icmp_type(r, std::span(&reply, 1));
                         r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 4, 2, kReg).lookup(kReg, kAnonSet, pool_set());
                         steer(r);
                     }});
    rules.push_back({ext + "icmp type { destination-unreachable, time-exceeded, parameter-problem } goto steer",
                     [this](RuleBuilder& r) {
                         daddr_external(r);
                         icmp_type(r, kIcmpErrors);
                         steer(r);
                     }});
    rules.push_back({"iifname != " + wan + " ip saddr " + internal + " fib daddr oifname " + wan + " goto steer",
                     [this](RuleBuilder& r) {
                         ifname_match(r, NFT_META_IIFNAME, NFT_CMP_NEQ, m_spec.wan_if);
                         saddr_match(r, m_spec.internal_net, m_spec.internal_prefix);
                         r.fib(NFTA_FIB_F_DADDR, NFT_FIB_RESULT_OIFNAME, kReg)
                             .cmp(kReg, NFT_CMP_EQ, ifname_bytes(m_spec.wan_if));
                         steer(r);
                     }});
    return rules;
}

// The router's own ICMP errors about packets the engine delivered (fragmentation needed on the
// LAN link, say) quote the translated packet: rerouted (a route chain) into the device, where
// the engine restores the quoted header (RFC 5508 REQ-5).
std::vector<TunRule> TunRules::output_rules() {
    const std::string internal = cidr_text(m_spec.internal_net, m_spec.internal_prefix);
    // nft cannot parse a prefix as the value of a raw payload match: mask and value in hex.
    const std::uint32_t mask = prefix_mask(m_spec.internal_prefix);
    const std::string quoted = "@th,192,32 & " + hex32_text(mask) + " == " + hex32_text(m_spec.internal_net & mask);
    return {{"ip daddr != " + internal +
                 " icmp type { destination-unreachable, time-exceeded, parameter-problem } " + quoted + " goto steer",
             [this](RuleBuilder& r) {
                 prefix_match_not(r, 16);
                 icmp_type(r, kIcmpErrors);
                 prefix_match(r, NFT_PAYLOAD_TRANSPORT_HEADER, kQuotedDaddr, m_spec.internal_net,
                              m_spec.internal_prefix);
                 steer(r);
             }}};
}

// meta mark set meta mark | M
void set_mark_bit(RuleBuilder& r, std::uint32_t mark) {
    // The mark register holds the host-order u32: mask and xor in the same byte order.
    std::array<std::uint8_t, 4> keep{}, bit{};
    const std::uint32_t not_mark = ~mark;
    std::memcpy(keep.data(), &not_mark, 4);
    std::memcpy(bit.data(), &mark, 4);
    r.meta(NFT_META_MARK, kReg).bitwise(kReg, keep, bit).meta_set(NFT_META_MARK, kReg);
}

} // namespace

Status build_tun_install(NftBatch& batch, const TunRuleSpec& spec) {
    if (spec.wan_if.empty() || spec.tun_if.empty() || spec.pool.empty())
        return Error{"nftables: a tun rule set needs a WAN interface, a TUN device and a port set"};
    replace_table(batch, spec.table);
    add_chain(batch, spec.table, std::string(kChainSteer), std::nullopt);
    add_chain(batch, spec.table, std::string(kChainPre), BaseChain{"filter", NF_INET_PRE_ROUTING, kPrioPre});
    add_chain(batch, spec.table, std::string(kChainOutput), BaseChain{"route", NF_INET_LOCAL_OUT, kPrioOutput});
    TunRules rules(spec, &batch);
    {
        RuleBuilder r(spec.table, std::string(kChainSteer));
        set_mark_bit(r, spec.mark);
        r.notrack().counter().verdict(NF_ACCEPT);
        CONENAT_TRY(add_rule(batch, r, "rule of chain steer"));
    }
    int n = 0;
    for (const TunRule& t : rules.pre_rules()) {
        RuleBuilder r(spec.table, std::string(kChainPre));
        t.build(r);
        CONENAT_TRY(add_rule(batch, r, "rule " + std::to_string(++n) + " of chain pre: " + t.text));
    }
    for (const TunRule& t : rules.output_rules()) {
        RuleBuilder r(spec.table, std::string(kChainOutput));
        t.build(r);
        CONENAT_TRY(add_rule(batch, r, "rule of chain output: " + t.text));
    }
    batch.end();
    return {};
}

} // namespace conenat::io::detail

namespace conenat::io {

std::string Nftables::render(const TunRuleSpec& spec) {
    std::ostringstream out;
    out << "# conenatd --engine tun rule set (conenatd --print-rules). conenatd installs it through libnftnl,\n"
        << "# and routes what it marks into " << spec.tun_if << ": ip rule add fwmark " << detail::hex32_text(spec.mark)
        << "/" << detail::hex32_text(spec.mark) << " lookup <table>; ip route add default dev " << spec.tun_if
        << " table <table>;\n# the 'lookup local' rule moves behind it.\n";
    out << "table ip " << spec.table << " {\n";
    detail::render_addr_set(out, "external", spec.external_addrs);
    out << "\n\tchain steer {\n\t\tmeta mark set meta mark | " << detail::hex32_text(spec.mark)
        << " notrack counter accept\n\t}\n";
    out << "\n\tchain pre {\n\t\ttype filter hook prerouting priority -300; policy accept;\n";
    detail::TunRules rules(spec, nullptr);
    for (const detail::TunRule& t : rules.pre_rules())
        out << "\t\t" << t.text << "\n";
    out << "\t}\n\n\tchain output {\n\t\ttype route hook output priority -300; policy accept;\n";
    for (const detail::TunRule& t : rules.output_rules())
        out << "\t\t" << t.text << "\n";
    out << "\t}\n}\n";
    return out.str();
}

} // namespace conenat::io
