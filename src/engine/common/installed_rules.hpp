// conenatd's nftables table while an engine runs: the nftables socket and the rule set the
// engine installed through it. RAII: the table goes when the engine stops or this is
// destroyed (absent is fine). replay() puts it back after someone removed it (`nft flush
// ruleset`), with the map elements the engine still has.
#pragma once

#include "conenat/io/nftables.hpp"
#include "conenat/util/result.hpp"

#include <optional>
#include <span>
#include <utility>

namespace conenat::engine {

class InstalledRules {
public:
    // The nftables socket; nothing installed yet.
    static Result<InstalledRules> open();
    InstalledRules(InstalledRules&& other) noexcept
        : m_nft(std::move(other.m_nft)), m_rules(std::exchange(other.m_rules, std::nullopt)) {}
    InstalledRules& operator=(InstalledRules&&) = delete;
    ~InstalledRules() { remove(); }

    // Replaces any table of that name with `rules`, remembered for replay() and remove().
    Status install(io::nft::RuleSet rules);
    // Installs the remembered rule set again, then `elements` into `maps`.
    Status replay(const io::NatMaps& maps, std::span<const io::MappingElement> elements);
    Status replay() { return replay({}, {}); }
    // Deletes the installed table, if any (absent is fine); logs the outcome.
    void remove();

    bool installed() const { return m_rules.has_value(); }
    // How this kernel's queue rules reach NFQUEUE: the nft queue statement, else the xt target.
    io::nft::Queueing queueing() { return m_nft.has_native_queue() ? io::nft::Queueing::Native : io::nft::Queueing::Xt; }
    io::Nftables& nft() { return m_nft; } // map elements, counters, has_native_queue

private:
    explicit InstalledRules(io::Nftables nft) : m_nft(std::move(nft)) {}
    io::Nftables m_nft;
    std::optional<io::nft::RuleSet> m_rules;
};

} // namespace conenat::engine
