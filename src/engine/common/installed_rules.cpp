#include "engine/common/installed_rules.hpp"

#include "conenat/util/log.hpp"

namespace conenat::engine {

Result<InstalledRules> InstalledRules::open() {
    auto nft = io::Nftables::open();
    if (!nft) return Error{"nftables: " + nft.error()};
    return InstalledRules(std::move(nft.value()));
}

Status InstalledRules::install(io::nft::RuleSet rules) {
    CONENAT_TRY(m_nft.install(rules));
    m_rules = std::move(rules);
    return {};
}

Status InstalledRules::replay(const io::NatMaps& maps, std::span<const io::MappingElement> elements) {
    if (!m_rules) return Error{"nftables: no rule set installed to replay"};
    CONENAT_TRY(m_nft.install(*m_rules));
    if (!elements.empty()) CONENAT_TRY(m_nft.add(maps, elements));
    return {};
}

void InstalledRules::remove() {
    if (!m_rules) return;
    if (Status s = m_nft.remove(m_rules->table); !s) LOG_ERROR("removing table: %s", s.error().c_str());
    else LOG_INFO("removed table ip %s", m_rules->table.c_str());
    m_rules.reset();
}

} // namespace conenat::engine
