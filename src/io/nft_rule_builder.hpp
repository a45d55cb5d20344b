// Internal: builds one nf_tables rule expression by expression (libnftnl).
#pragma once

#include "nft_objects.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace conenat::io::detail {

class RuleBuilder {
public:
    RuleBuilder(const std::string& table, const std::string& chain);

    RuleBuilder& payload(std::uint32_t base, std::uint32_t offset, std::uint32_t len, std::uint32_t dreg);
    RuleBuilder& meta(std::uint32_t key, std::uint32_t dreg);
    RuleBuilder& ct(std::uint32_t key, std::uint32_t dreg);
    // ct `key` set from `sreg` (e.g. NFT_CT_EVENTMASK).
    RuleBuilder& ct_set(std::uint32_t key, std::uint32_t sreg);
    RuleBuilder& cmp(std::uint32_t sreg, std::uint32_t op, std::span<const std::uint8_t> data);
    RuleBuilder& cmp_u8(std::uint32_t sreg, std::uint32_t op, std::uint8_t value);
    RuleBuilder& cmp_u32(std::uint32_t sreg, std::uint32_t op, std::uint32_t value); // host order bytes
    // reg = (reg & mask) ^ 0
    RuleBuilder& mask(std::uint32_t reg, std::span<const std::uint8_t> mask);
    // reg = (reg & mask) ^ xor (same lengths): e.g. setting bits is mask ~b, xor b.
    RuleBuilder& bitwise(std::uint32_t reg, std::span<const std::uint8_t> mask, std::span<const std::uint8_t> xor_);
    // meta `key` set from `sreg` (e.g. NFT_META_MARK).
    RuleBuilder& meta_set(std::uint32_t key, std::uint32_t sreg);
    RuleBuilder& lookup(std::uint32_t sreg, const std::string& set, std::optional<std::uint32_t> set_id,
                        std::optional<std::uint32_t> dreg = std::nullopt);
    // The key in `sreg` is NOT in the set (NFT_LOOKUP_F_INV).
    RuleBuilder& lookup_absent(std::uint32_t sreg, const std::string& set, std::optional<std::uint32_t> set_id);
    // Adds the key in `sreg` to the dynamic set, or refreshes its timeout (NFT_DYNSET_OP_UPDATE).
    RuleBuilder& dynset_update(std::uint32_t sreg, const std::string& set, std::uint32_t set_id, std::uint64_t timeout_ms);
    // dreg = data (a constant, e.g. a NAT address or port).
    RuleBuilder& immediate(std::uint32_t dreg, std::span<const std::uint8_t> data);
    RuleBuilder& nat(std::uint32_t type, std::uint32_t addr_reg, std::uint32_t proto_reg);
    RuleBuilder& counter();
    // Queue to `num`: the nft queue expression, or the xt NFQUEUE target v3. With `bypass` a
    // packet passes when no program listens; without it, it is dropped.
    RuleBuilder& queue(std::uint16_t num, bool native, bool bypass = false);
    // Takes the packet out of conntrack (the nft "notrack" statement).
    RuleBuilder& notrack();
    // NFT_SOCKET_* of the local socket the packet belongs to; the rule stops when there is none.
    RuleBuilder& socket(std::uint32_t key, std::uint32_t dreg);
    // A route lookup: NFTA_FIB_F_* flags, NFT_FIB_RESULT_* result.
    RuleBuilder& fib(std::uint32_t flags, std::uint32_t result, std::uint32_t dreg);
    RuleBuilder& verdict(int verdict);
    // NFT_JUMP / NFT_GOTO to `chain`.
    RuleBuilder& verdict(int verdict, const std::string& chain);

    bool ok() const { return m_ok; }
    nftnl_rule* get() const { return m_rule.get(); }

private:
    nftnl_expr* add(const char* name);
    NftnlPtr<nftnl_rule> m_rule;
    bool m_ok = true;
};

} // namespace conenat::io::detail
