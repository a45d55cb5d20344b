// Nftables::render: the rule set of nftables.hpp as nft text (pure; for --print-rules).
#include "conenat/io/nftables.hpp"

#include "nft_common.hpp"
#include "nft_layout.hpp"
#include "nft_ruleset.hpp"

#include <linux/netfilter.h>

#include <sstream>

namespace conenat::io {

namespace {
using core::Proto;
using detail::Field;
using detail::hex32_text;

const core::Behaviour& mapping_of(const RuleSetSpec& spec, Proto p) {
    return p == Proto::Udp ? spec.udp_mapping : p == Proto::Tcp ? spec.tcp_mapping : spec.icmp_mapping;
}

std::string key_types(const std::vector<Field>& key) {
    std::string s;
    for (Field f : key)
        s += std::string(s.empty() ? "" : " . ") + (f == Field::SrcAddr || f == Field::DstAddr ? "ipv4_addr" : "inet_service");
    return s;
}

std::string key_exprs(const std::vector<Field>& key, Proto p) {
    std::string s;
    for (Field f : key)
        s += std::string(s.empty() ? "" : " . ") + std::string(detail::expr_name(f, p));
    return s;
}

class Renderer {
public:
    explicit Renderer(const RuleSetSpec& spec) : m_spec(spec) {
        if (!spec.wan_if.empty())
            m_oif = "oifname \"" + spec.wan_if + "\" ";
        if (spec.internal_prefix > 0)
            m_saddr = "ip saddr " + detail::cidr_text(spec.internal_net, spec.internal_prefix) + " ";
        m_ports = detail::ranges_text(spec.pool);
        // Packets the daemon sent round again carry the permit mark: never queued twice.
        const std::string unmarked = "meta mark & " + hex32_text(spec.permit_mark) + " == 0 ";
        m_queue_out = unmarked + "counter queue num " + std::to_string(spec.queue_out);
        m_queue_in = unmarked + "counter queue num " + std::to_string(spec.queue_in);
    }

    std::string run();

private:
    void header();
    void maps();
    void chain(std::string_view name, std::string_view type, std::string_view hook, int prio);
    void rule(const std::string& text) { m_out << "\t\t" << text << "\n"; }
    std::string dport(Proto p) const {
        const std::string name(detail::proto_name(p));
        return m_ports.empty() ? "meta l4proto " + name + " " : name + " dport { " + m_ports + " } ";
    }

    const RuleSetSpec& m_spec;
    std::ostringstream m_out;
    std::string m_oif, m_saddr, m_ports, m_queue_out, m_queue_in;
};

void Renderer::header() {
    m_out << "# conenatd rule set (conenatd --print-rules). conenatd installs it through libnftnl.\n"
          << "# `nft -f` accepts this text where the kernel has the nft queue statement\n"
          << "# (CONFIG_NFT_QUEUE). Without it conenatd installs each \"queue num N\" as the xt NFQUEUE\n"
          << "# target (nft_compat, queue N, no bypass), which the nft CLI cannot express"
          << (m_spec.native_queue ? ".\n" : ": this rule set uses it.\n")
          << "# snat_icmp is typeof-declared here so that nft accepts the icmp id key; conenatd declares it\n"
          << "# as ipv4_addr . inet_service [. ipv4_addr] : ipv4_addr . inet_service (the same bytes).\n";
}

void Renderer::maps() {
    detail::render_addr_set(m_out, detail::kSetExternal, m_spec.external_addrs);
    for (Proto p : {Proto::Udp, Proto::Tcp, Proto::Icmp}) {
        const auto key = detail::snat_key(p, mapping_of(m_spec, p));
        m_out << "\tmap " << detail::snat_map(p) << " {\n";
        if (p == Proto::Icmp)
            m_out << "\t\ttypeof " << key_exprs(key, p) << " : ip daddr . th dport\n";
        else
            m_out << "\t\ttype " << key_types(key) << " : ipv4_addr . inet_service\n";
        m_out << "\t}\n";
    }
    for (Proto p : {Proto::Udp, Proto::Tcp})
        m_out << "\tmap " << detail::dnat_map(p) << " {\n\t\ttype " << key_types(detail::dnat_key())
              << " : ipv4_addr . inet_service\n\t}\n";
}

void Renderer::chain(std::string_view name, std::string_view type, std::string_view hook, int prio) {
    m_out << "\n\tchain " << name << " {\n\t\ttype " << type << " hook " << hook << " priority " << prio
          << "; policy accept;\n";
    const std::string chain(name);
    if (name == detail::kChainDnat) {
        for (Proto p : {Proto::Udp, Proto::Tcp}) {
            const bool filters = p == Proto::Udp ? m_spec.udp_filters : m_spec.tcp_filters;
            const std::string mark = filters ? "meta mark & " + hex32_text(m_spec.permit_mark) + " == " + hex32_text(m_spec.permit_mark) + " " : "";
            rule("ip daddr @" + std::string(detail::kSetExternal) + " " + mark + dport(p) + "dnat ip to " +
                 key_exprs(detail::dnat_key(), p) + " map @" + std::string(detail::dnat_map(p)));
        }
    } else if (name == detail::kChainDnatQueue) {
        std::string ports = m_ports.empty() ? "" : "th dport { " + m_ports + " } ";
        rule("ip daddr @" + std::string(detail::kSetExternal) + " meta l4proto { udp, tcp } " + ports + m_queue_in);
    } else if (name == detail::kChainSnat) {
        for (const std::string& prefix : {m_oif, std::string("ct status dnat ")}) {
            for (Proto p : {Proto::Udp, Proto::Tcp, Proto::Icmp}) {
                const auto key = detail::snat_key(p, mapping_of(m_spec, p));
                const std::string match = p == Proto::Icmp ? "icmp type echo-request " : "meta l4proto " + std::string(detail::proto_name(p)) + " ";
                rule(prefix + m_saddr + match + "snat ip to " + key_exprs(key, p) + " map @" + std::string(detail::snat_map(p)));
            }
        }
    } else if (name == detail::kChainSnatQueue) {
        rule(m_oif + m_saddr + "meta l4proto { udp, tcp } " + m_queue_out);
        rule(m_oif + m_saddr + "icmp type echo-request " + m_queue_out);
        rule("ct status dnat " + m_saddr + "meta l4proto { udp, tcp } " + m_queue_out);
    } else if (name == detail::kChainSpoofGuard) {
        if (!m_spec.wan_if.empty() && !m_saddr.empty())
            rule("iifname \"" + m_spec.wan_if + "\" " + m_saddr + "counter drop");
    } else if (name == detail::kChainGuard) {
        rule(m_oif + m_saddr + "meta l4proto { udp, tcp, icmp } ct status & snat == 0 counter drop");
    }
    m_out << "\t}\n";
}

std::string Renderer::run() {
    header();
    m_out << "table ip " << m_spec.table << " {\n";
    maps();
    std::size_t n = 0;
    const detail::ChainSpec* cs = detail::chains(&n);
    for (std::size_t i = 0; i < n; ++i)
        chain(cs[i].name, cs[i].type, cs[i].hook == NF_INET_PRE_ROUTING ? "prerouting" : "postrouting", cs[i].priority);
    m_out << "}\n";
    return m_out.str();
}

} // namespace

std::string Nftables::render(const RuleSetSpec& spec) {
    return Renderer(spec).run();
}

} // namespace conenat::io
