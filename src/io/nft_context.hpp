// Internal: the netlink side of a rule description (nft_rules.hpp): the rule being built, the
// ids of the batch's named sets, and anonymous sets added on demand.
#pragma once

#include "conenat/io/nft_rules.hpp"
#include "nft_common.hpp"
#include "nft_rule_builder.hpp"

#include <functional>
#include <string>

namespace conenat::io::nft {

class RuleContext {
public:
    using SetId = std::function<std::uint32_t(const std::string& name)>;
    // Adds an anonymous constant set (NFT_SET_* `flags`, key type and length, its user data)
    // and returns its id.
    using AnonSet = std::function<std::uint32_t(std::uint32_t flags, std::uint32_t type, std::uint32_t len,
                                                const std::vector<detail::SetElem>& elems,
                                                const std::vector<std::uint8_t>& userdata)>;

    RuleContext(detail::RuleBuilder& rule, SetId set_id, AnonSet anon)
        : m_rule(rule), m_set_id(std::move(set_id)), m_anon(std::move(anon)) {}

    detail::RuleBuilder& rule() { return m_rule; }
    std::uint32_t set_id(const std::string& name) { return m_set_id(name); }
    std::uint32_t anon(std::uint32_t flags, std::uint32_t type, std::uint32_t len,
                       const std::vector<detail::SetElem>& elems, const std::vector<std::uint8_t>& userdata = {}) {
        return m_anon(flags, type, len, elems, userdata);
    }

private:
    detail::RuleBuilder& m_rule;
    SetId m_set_id;
    AnonSet m_anon;
};

} // namespace conenat::io::nft
