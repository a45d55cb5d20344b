#include "nft_rule_builder.hpp"

#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <linux/netfilter_ipv4.h>

#include <cstdlib>
#include <cstring>

namespace conenat::io::detail {

RuleBuilder::RuleBuilder(const std::string& table, const std::string& chain) : m_rule(nftnl_rule_alloc()) {
    if (!m_rule) {
        m_ok = false;
        return;
    }
    nftnl_rule_set_str(m_rule.get(), NFTNL_RULE_TABLE, table.c_str());
    nftnl_rule_set_str(m_rule.get(), NFTNL_RULE_CHAIN, chain.c_str());
    nftnl_rule_set_u32(m_rule.get(), NFTNL_RULE_FAMILY, NFPROTO_IPV4);
}

nftnl_expr* RuleBuilder::add(const char* name) {
    if (!m_ok)
        return nullptr;
    nftnl_expr* e = nftnl_expr_alloc(name);
    if (!e) {
        m_ok = false;
        return nullptr;
    }
    nftnl_rule_add_expr(m_rule.get(), e); // the rule owns it from here
    return e;
}

RuleBuilder& RuleBuilder::payload(std::uint32_t base, std::uint32_t offset, std::uint32_t len, std::uint32_t dreg) {
    if (nftnl_expr* e = add("payload")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
    }
    return *this;
}

RuleBuilder& RuleBuilder::meta(std::uint32_t key, std::uint32_t dreg) {
    if (nftnl_expr* e = add("meta")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
    }
    return *this;
}

RuleBuilder& RuleBuilder::ct(std::uint32_t key, std::uint32_t dreg) {
    if (nftnl_expr* e = add("ct")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
    }
    return *this;
}

RuleBuilder& RuleBuilder::ct_set(std::uint32_t key, std::uint32_t sreg) {
    if (nftnl_expr* e = add("ct")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, sreg);
    }
    return *this;
}

RuleBuilder& RuleBuilder::cmp(std::uint32_t sreg, std::uint32_t op, std::span<const std::uint8_t> data) {
    if (nftnl_expr* e = add("cmp")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data.data(), static_cast<std::uint32_t>(data.size()));
    }
    return *this;
}

RuleBuilder& RuleBuilder::cmp_u8(std::uint32_t sreg, std::uint32_t op, std::uint8_t value) {
    return cmp(sreg, op, {&value, 1});
}

RuleBuilder& RuleBuilder::cmp_u32(std::uint32_t sreg, std::uint32_t op, std::uint32_t value) {
    std::uint8_t bytes[4];
    std::memcpy(bytes, &value, 4);
    return cmp(sreg, op, bytes);
}

RuleBuilder& RuleBuilder::mask(std::uint32_t reg, std::span<const std::uint8_t> mask) {
    const std::uint8_t zero[16] = {};
    return bitwise(reg, mask, std::span(zero, mask.size()));
}

RuleBuilder& RuleBuilder::bitwise(std::uint32_t reg, std::span<const std::uint8_t> mask,
                                  std::span<const std::uint8_t> xor_) {
    if (mask.size() != xor_.size() || mask.size() > 16) {
        m_ok = false;
        return *this;
    }
    if (nftnl_expr* e = add("bitwise")) {
        const auto len = static_cast<std::uint32_t>(mask.size());
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask.data(), len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor_.data(), len);
    }
    return *this;
}

RuleBuilder& RuleBuilder::meta_set(std::uint32_t key, std::uint32_t sreg) {
    if (nftnl_expr* e = add("meta")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, sreg);
    }
    return *this;
}

RuleBuilder& RuleBuilder::lookup(std::uint32_t sreg, const std::string& set, std::optional<std::uint32_t> set_id,
                                 std::optional<std::uint32_t> dreg) {
    if (nftnl_expr* e = add("lookup")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set.c_str());
        if (set_id)
            nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, *set_id);
        if (dreg)
            nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, *dreg);
    }
    return *this;
}

RuleBuilder& RuleBuilder::dynset_update(std::uint32_t sreg, const std::string& set, std::uint32_t set_id,
                                        std::uint64_t timeout_ms) {
    if (nftnl_expr* e = add("dynset")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, sreg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
        nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set.c_str());
        nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SET_ID, set_id);
        nftnl_expr_set_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT, timeout_ms);
    }
    return *this;
}

RuleBuilder& RuleBuilder::lookup_absent(std::uint32_t sreg, const std::string& set, std::optional<std::uint32_t> set_id) {
    if (nftnl_expr* e = add("lookup")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set.c_str());
        if (set_id)
            nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, *set_id);
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
    }
    return *this;
}

RuleBuilder& RuleBuilder::immediate(std::uint32_t dreg, std::span<const std::uint8_t> data) {
    if (nftnl_expr* e = add("immediate")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, dreg);
        nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data.data(), static_cast<std::uint32_t>(data.size()));
    }
    return *this;
}

RuleBuilder& RuleBuilder::nat(std::uint32_t type, std::uint32_t addr_reg, std::uint32_t proto_reg) {
    if (nftnl_expr* e = add("nat")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, type);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, addr_reg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, proto_reg);
    }
    return *this;
}

RuleBuilder& RuleBuilder::counter() {
    add("counter");
    return *this;
}

RuleBuilder& RuleBuilder::queue(std::uint16_t num, bool native, bool bypass) {
    if (native) {
        if (nftnl_expr* e = add("queue")) {
            nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, num);
            nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, 1);
            nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, bypass ? NFT_QUEUE_FLAG_BYPASS : 0);
        }
        return *this;
    }
    // nft_compat checks the info length against XT_ALIGN(targetsize), and libnftnl takes
    // ownership of (and frees) the malloc'd info buffer.
    const std::size_t len = XT_ALIGN(sizeof(xt_NFQ_info_v3));
    auto* info = static_cast<xt_NFQ_info_v3*>(std::calloc(1, len));
    if (!info) {
        m_ok = false;
        return *this;
    }
    info->queuenum = num;
    info->queues_total = 1;
    info->flags = bypass ? NFQ_FLAG_BYPASS : 0;
    if (nftnl_expr* e = add("target")) {
        nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
        nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
        nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, static_cast<std::uint32_t>(len));
    } else {
        std::free(info);
    }
    return *this;
}

RuleBuilder& RuleBuilder::notrack() {
    add("notrack");
    return *this;
}

RuleBuilder& RuleBuilder::socket(std::uint32_t key, std::uint32_t dreg) {
    if (nftnl_expr* e = add("socket")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, dreg);
    }
    return *this;
}

RuleBuilder& RuleBuilder::fib(std::uint32_t flags, std::uint32_t result, std::uint32_t dreg) {
    if (nftnl_expr* e = add("fib")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, flags);
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, result);
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, dreg);
    }
    return *this;
}

RuleBuilder& RuleBuilder::verdict(int v) {
    if (nftnl_expr* e = add("immediate")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<std::uint32_t>(v));
    }
    return *this;
}

RuleBuilder& RuleBuilder::verdict(int v, const std::string& chain) {
    if (nftnl_expr* e = add("immediate")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<std::uint32_t>(v));
        nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain.c_str());
    }
    return *this;
}

} // namespace conenat::io::detail
