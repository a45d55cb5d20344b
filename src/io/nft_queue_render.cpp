// Nftables::render for the queue engine's table (queue_rules.hpp) as nft text (pure; for
// --print-rules).
#include "conenat/io/nftables.hpp"

#include "nft_common.hpp"
#include "nft_queue_ruleset.hpp"

#include <sstream>

namespace conenat::io {

namespace {

using detail::hex32_text;
using detail::ipv4_text;

class QueueRenderer {
public:
    explicit QueueRenderer(const QueueRuleSpec& spec) : m_spec(spec) {
        m_internal = detail::cidr_text(spec.internal_net, spec.internal_prefix);
        m_wan = "\"" + spec.wan_if + "\"";
        m_mark = "meta mark & " + hex32_text(spec.mark) + " == " + hex32_text(spec.mark) + " ";
        m_pool = detail::ranges_text(spec.pool);
        m_host = spec.host_key == QueueRuleSpec::HostKey::LowByte ? "ip saddr & 0.0.0.255" : "ip saddr";
        m_quoted_host = spec.host_key == QueueRuleSpec::HostKey::LowByte ? "@th,192,32 & 0x000000ff" : "@th,192,32";
    }
    std::string run();

private:
    void map(std::string_view name, bool ports, const char* kind);
    void inbound(bool handed_on, std::string_view map);
    void rule(const std::string& text) { m_out << "\t\t" << text << "\n"; }
    std::string queue(std::uint16_t num) const {
        return "counter queue num " + std::to_string(num) + (m_spec.bypass ? " bypass" : "");
    }

    const QueueRuleSpec& m_spec;
    std::ostringstream m_out;
    std::string m_internal, m_wan, m_mark, m_pool, m_host, m_quoted_host;
};

void QueueRenderer::map(std::string_view name, bool ports, const char* kind) {
    const bool interval = ports || m_spec.host_key == QueueRuleSpec::HostKey::Address;
    m_out << "\tmap " << name << " {\n\t\ttype " << (ports ? "inet_service" : "ipv4_addr") << " : verdict\n";
    if (interval)
        m_out << "\t\tflags interval\n";
    m_out << "\t\telements = {";
    std::size_t n = 0;
    auto element = [&](const std::string& key, std::uint16_t worker) { // four to a line
        m_out << (n ? "," : "") << (n % 4 ? " " : "\n\t\t\t") << key << " : goto " << detail::worker_chain(kind, worker);
        ++n;
    };
    for (const KeyRange& r : ports ? m_spec.ports : m_spec.hosts) {
        const auto key = [&](std::uint32_t v) { return ports ? std::to_string(v) : ipv4_text(v); };
        if (interval)
            element(key(r.first) + (r.last != r.first ? "-" + key(r.last) : ""), r.worker);
        else
            for (std::uint32_t b = r.first; b <= r.last && b <= 0xff; ++b)
                element(ipv4_text(b), r.worker);
    }
    m_out << " }\n\t}\n";
}

void QueueRenderer::inbound(bool handed_on, std::string_view map) {
    const std::string head = (handed_on ? m_mark : std::string()) + "ip daddr @" + std::string(detail::kQueueSetExternal) + " ";
    const std::string vmap = " vmap @" + std::string(map);
    const std::string errors = "icmp type { destination-unreachable, time-exceeded, parameter-problem } @th,64,8 0x45 ";
    rule(head + "meta l4proto { tcp, udp } th dport" + vmap);
    if (!handed_on)
        rule(head + "icmp type echo-reply icmp id" + vmap);
    rule(head + errors + "@th,136,8 { 6, 17 } @th,224,16" + vmap);
    rule(head + errors + "@th,136,8 1 @th,256,16" + vmap);
}

std::string QueueRenderer::run() {
    m_out << "# conenatd --engine queue rule set (conenatd --print-rules). conenatd installs it through\n"
          << "# libnftnl. Each \"queue num N\" is the nft queue statement where the kernel has it\n"
          << "# (CONFIG_NFT_QUEUE), else the xt NFQUEUE target (nft_compat), which the nft CLI cannot express"
          << (m_spec.native_queue ? ".\n" : ": this rule set uses it.\n")
          << "# Worker k: main queue " << m_spec.first_queue << " + 2k, hairpin queue " << m_spec.first_queue
          << " + 2k + 1.\n";
    m_out << "table ip " << m_spec.table << " {\n";
    detail::render_addr_set(m_out, detail::kQueueSetExternal, m_spec.external_addrs);
    map(detail::kMapInPorts, true, "in");
    map(detail::kMapHairpinPorts, true, "hp");
    map(detail::kMapOutHosts, false, "out");
    map(detail::kMapHairpinHosts, false, "hp");
    for (unsigned k = 0; k < m_spec.workers; ++k) {
        m_out << "\n\tchain " << detail::worker_chain("in", k) << " {\n";
        rule("notrack " + queue(m_spec.main_queue(k)));
        m_out << "\t}\n\tchain " << detail::worker_chain("out", k) << " {\n";
        rule(queue(m_spec.main_queue(k)));
        m_out << "\t}\n\tchain " << detail::worker_chain("hp", k) << " {\n";
        rule("notrack " + queue(m_spec.hairpin_queue(k)));
        m_out << "\t}\n";
    }
    const std::string ext = "@" + std::string(detail::kQueueSetExternal);
    m_out << "\n\tchain " << detail::kQueueChainPre << " {\n\t\ttype filter hook prerouting priority "
          << detail::kQueuePrioPre << "; policy accept;\n";
    rule("iifname " + m_wan + " ip saddr " + m_internal + " ip daddr " + ext + " counter drop");
    rule("ip daddr " + ext + " socket transparent <= 1 accept");
    inbound(true, detail::kMapHairpinPorts);
    rule("iifname != " + m_wan + " ip saddr " + m_internal + " ip daddr " + ext + " meta l4proto { tcp, udp } th dport { " +
         m_pool + " } " + m_host + " vmap @" + std::string(detail::kMapHairpinHosts));
    rule("iifname != " + m_wan + " ip saddr " + m_internal + " ip daddr " + ext +
         " icmp type { destination-unreachable, time-exceeded, parameter-problem } " + m_host + " vmap @" +
         std::string(detail::kMapHairpinHosts));
    inbound(false, detail::kMapInPorts);
    rule("iifname != " + m_wan + " ip saddr " + m_internal + " fib daddr oifname " + m_wan + " notrack");
    m_out << "\t}\n\n\tchain " << detail::kQueueChainPost << " {\n\t\ttype filter hook postrouting priority "
          << detail::kQueuePrioPost << "; policy accept;\n";
    rule("oifname " + m_wan + " ip saddr " + m_internal + " ct state untracked " + m_host + " vmap @" +
         std::string(detail::kMapOutHosts));
    rule("oifname " + m_wan + " ip saddr " + ext +
         " icmp type { destination-unreachable, time-exceeded, parameter-problem } @th,192,32 " + m_internal + " " +
         m_quoted_host + " vmap @" + std::string(detail::kMapOutHosts));
    m_out << "\t}\n\n\tchain " << detail::kQueueChainOutput << " {\n\t\ttype filter hook output priority "
          << detail::kQueuePrioOutput << "; policy accept;\n";
    rule(m_mark + "notrack");
    m_out << "\t}\n}\n";
    return m_out.str();
}

} // namespace

std::string Nftables::render(const QueueRuleSpec& spec) {
    return QueueRenderer(spec).run();
}

} // namespace conenat::io
