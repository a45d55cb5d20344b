// Nftables::install(RuleSet): the messages of a described rule set, in one ACKed batch.
#include "nft_install.hpp"

#include "nft_context.hpp"
#include "nft_layout.hpp"
#include "nft_typeof.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <map>

namespace conenat::io::detail {

namespace {

std::uint32_t hook_of(nft::Hook h) {
    switch (h) {
    case nft::Hook::Prerouting: return NF_INET_PRE_ROUTING;
    case nft::Hook::Input: return NF_INET_LOCAL_IN;
    case nft::Hook::Forward: return NF_INET_FORWARD;
    case nft::Hook::Output: return NF_INET_LOCAL_OUT;
    case nft::Hook::Postrouting: break;
    }
    return NF_INET_POST_ROUTING;
}

std::uint32_t type_id(nft::Type t) {
    return t == nft::Type::Ipv4Addr ? kTypeIpv4 : t == nft::Type::InetProto ? kTypeInetProto : kTypeInetService;
}

// nft's id and length of a (concatenated) type: each field of a concatenation takes a 32-bit
// register slot.
std::pair<std::uint32_t, std::uint32_t> type_of(const std::vector<nft::Type>& fields) {
    if (fields.size() == 1)
        return {type_id(fields[0]), fields[0] == nft::Type::Ipv4Addr ? 4u : 2u};
    std::uint32_t type = 0;
    for (nft::Type f : fields)
        type = (type << kTypeBits) | type_id(f);
    return {type, kSlot * std::uint32_t(fields.size())};
}

// Elements of a one-field set. Interval sets: a start element per range and an end element
// one past it (as nft encodes them: the kernel's rbtree refuses two starts in a row), and an
// end element at 0 first when the first range does not start at 0.
std::vector<SetElem> elements_of(const nft::Set& set) {
    const unsigned width = set.key.size() == 1 && set.key[0] == nft::Type::InetService ? 2 : 4;
    const std::uint64_t top = width == 2 ? 0xffff : 0xffffffffu;
    auto key = [&](std::uint64_t v) { return width == 2 ? be16(std::uint32_t(v)) : be32(std::uint32_t(v)); };
    std::vector<SetElem> out;
    if (!set.interval) {
        for (const nft::Element& e : set.elements)
            for (std::uint64_t k = e.first; k <= e.last; ++k)
                out.push_back({key(k), false, e.goto_chain});
        return out;
    }
    if (!set.elements.empty() && set.elements.front().first > 0)
        out.push_back({key(0), true, {}});
    for (const nft::Element& e : set.elements) {
        out.push_back({key(e.first), false, e.goto_chain});
        if (e.last < top)
            out.push_back({key(std::uint64_t(e.last) + 1), true, {}});
    }
    return out;
}

} // namespace

Status build_install(NftBatch& batch, const nft::RuleSet& rules) {
    replace_table(batch, rules.table);
    // The chains first: verdict map elements go to them; then the sets, then the rules.
    for (const nft::Chain& c : rules.chains) {
        std::optional<BaseChain> base;
        if (c.base)
            base = BaseChain{c.base->type, hook_of(c.base->hook), c.base->priority};
        add_chain(batch, rules.table, c.name, base);
    }
    std::uint32_t next_id = 1;
    std::map<std::string, std::uint32_t> ids;
    for (const nft::Set& s : rules.sets) {
        SetSpec spec;
        spec.name = s.name;
        spec.flags = s.interval ? NFT_SET_INTERVAL : 0;
        if (s.dynamic)
            spec.flags |= NFT_SET_TIMEOUT | NFT_SET_EVAL;
        spec.size = s.size;
        std::tie(spec.key_type, spec.key_len) = type_of(s.key);
        if (!s.data.empty()) {
            spec.flags |= NFT_SET_MAP;
            if (s.data[0] == nft::Type::Verdict)
                spec.data_type = NFT_DATA_VERDICT; // the kernel sizes verdicts itself
            else
                std::tie(spec.data_type, spec.data_len) = type_of(s.data);
        }
        spec.userdata = typeof_userdata(s.key_typeof, s.data_typeof);
        ids[s.name] = next_id;
        add_set(batch, rules.table, next_id++, spec, elements_of(s));
    }
    auto set_id = [&](const std::string& name) { return ids.count(name) ? ids[name] : 0; };
    auto anon = [&](std::uint32_t flags, std::uint32_t type, std::uint32_t len, const std::vector<SetElem>& elems,
                    const std::vector<std::uint8_t>& userdata) {
        const std::uint32_t id = next_id++;
        add_set(batch, rules.table, id,
                {kAnonSet, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | flags, type, len, 0, 0, userdata}, elems);
        return id;
    };
    for (const nft::Chain& c : rules.chains) {
        int n = 0;
        for (const nft::Rule& rule : c.rules) {
            RuleBuilder r(rules.table, c.name);
            nft::RuleContext context(r, set_id, anon);
            for (const nft::Term& t : rule)
                t.build(context);
            CONENAT_TRY(add_rule(batch, r, "rule " + std::to_string(++n) + " of chain " + c.name + ": " + text_of(rule)));
        }
    }
    batch.end();
    return {};
}

std::string text_of(const nft::Rule& rule) {
    std::string s;
    for (const nft::Term& t : rule)
        s += (s.empty() ? "" : " ") + t.text;
    return s;
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
