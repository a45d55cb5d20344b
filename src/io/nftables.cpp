// Nftables: conenatd's table through libnftnl, every operation one ACKed batch.
#include "conenat/io/nftables.hpp"

#include "nft_batch.hpp"
#include "nft_common.hpp"
#include "nft_elements.hpp"
#include "nft_objects.hpp"
#include "nft_install.hpp"

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>

namespace conenat::io {

using detail::ElementRange;
using detail::MapElement;
using detail::NftBatch;
using detail::NftFailure;

namespace {
// Not in the 6.1 uapi headers of Debian 12: delete, absent is fine (kernel >= 6.3).
constexpr std::uint16_t kMsgDestroySetElem = 30;
// One transaction at most this big; larger requests are split into several transactions.
constexpr std::size_t kMaxBatchElements = 100'000;

bool all_errors(const std::vector<NftFailure>& failures, std::initializer_list<int> errors) {
    return std::all_of(failures.begin(), failures.end(), [&](const NftFailure& f) {
        return std::find(errors.begin(), errors.end(), f.error) != errors.end();
    });
}

// Runs `op` on `elems` in transactions of at most kMaxBatchElements.
template <typename Op>
Status in_chunks(const std::vector<MapElement>& elems, Op op) {
    for (std::size_t i = 0; i < elems.size(); i += kMaxBatchElements) {
        const std::size_t n = std::min(kMaxBatchElements, elems.size() - i);
        CONENAT_TRY(op(std::span(elems).subspan(i, n)));
    }
    return {};
}
} // namespace

struct Nftables::Impl {
    detail::NftSocket sock;
    std::optional<bool> native_queue;
    std::optional<bool> destroy_supported; // NFT_MSG_DESTROY*; unknown until first used

    Status commit(NftBatch& batch) {
        auto failures = sock.commit(batch);
        if (!failures)
            return Error{failures.error()};
        return detail::to_status(*failures);
    }

    // One batch of `type` messages for `elems`, committed; `ranges` gets their element ranges.
    Result<std::vector<NftFailure>> send_elements(const std::string& table, std::uint16_t type,
                                                  std::span<const MapElement> elems,
                                                  std::vector<ElementRange>* ranges = nullptr) {
        NftBatch batch = sock.batch();
        auto r = detail::add_element_messages(batch, table, type, elems);
        if (ranges)
            *ranges = std::move(r);
        batch.end();
        return sock.commit(batch);
    }

    Status delete_keys(const std::string& table, std::span<const MapElement> elems);
    Status delete_each(const std::string& table, std::span<const MapElement> elems);
    Status add_elements(const std::string& table, std::span<const MapElement> elems);
};

Nftables::Nftables(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Nftables::Nftables(Nftables&&) noexcept = default;
Nftables& Nftables::operator=(Nftables&&) noexcept = default;
Nftables::~Nftables() = default;

Result<Nftables> Nftables::open() {
    auto sock = detail::NftSocket::open();
    if (!sock)
        return Error{sock.error()};
    return Nftables(std::make_unique<Impl>(Impl{std::move(sock.value()), std::nullopt, std::nullopt}));
}

std::uint32_t Nftables::portid() const {
    return m_impl->sock.portid();
}

bool Nftables::has_native_queue() {
    if (m_impl->native_queue)
        return *m_impl->native_queue;
    NftBatch batch = m_impl->sock.batch();
    const std::string table = "conenatd_probe_" + std::to_string(getpid());
    if (!detail::build_queue_probe(batch, table))
        return false;
    auto failures = m_impl->sock.commit(batch);
    if (!failures)
        return false; // the socket failed: ask again next time
    // ENOENT: no "queue" expression type (CONFIG_NFT_QUEUE unset, no module to load).
    m_impl->native_queue = failures->empty();
    return *m_impl->native_queue;
}

Status Nftables::install(const nft::RuleSet& rules) {
    NftBatch batch = m_impl->sock.batch();
    CONENAT_TRY(detail::build_install(batch, rules));
    return m_impl->commit(batch);
}

Status Nftables::remove(const std::string& table) {
    NftBatch batch = m_impl->sock.batch();
    // add + delete works on every kernel, whether or not the table exists.
    detail::table_message(batch, NFT_MSG_NEWTABLE, NLM_F_CREATE, "table " + table, table);
    detail::table_message(batch, NFT_MSG_DELTABLE, 0, "delete table " + table, table);
    batch.end();
    return m_impl->commit(batch);
}

// Deletes the keys of `elems`; absent keys are not an error.
Status Nftables::Impl::delete_keys(const std::string& table, std::span<const MapElement> elems) {
    if (elems.empty())
        return {};
    if (destroy_supported.value_or(true)) {
        auto failures = send_elements(table, kMsgDestroySetElem, elems);
        if (!failures)
            return Error{failures.error()};
        if (failures->empty()) {
            destroy_supported = true;
            return {};
        }
        // An older kernel does not know the message type.
        if (destroy_supported || !all_errors(*failures, {EINVAL, EOPNOTSUPP}))
            return detail::to_status(*failures);
        destroy_supported = false;
    }
    std::vector<ElementRange> ranges;
    auto failures = send_elements(table, NFT_MSG_DELSETELEM, elems, &ranges);
    if (!failures)
        return Error{failures.error()};
    if (failures->empty())
        return {};
    if (!all_errors(*failures, {ENOENT}))
        return detail::to_status(*failures);
    // One absent element aborts the whole transaction: redo the failed messages one
    // element at a time, ignoring the absent ones.
    for (const NftFailure& f : *failures) {
        const ElementRange r = ranges[f.index];
        CONENAT_TRY(delete_each(table, elems.subspan(r.first, r.count)));
    }
    // The other messages were rolled back with the failed ones.
    for (std::size_t m = 0; m < ranges.size(); ++m) {
        bool failed = std::any_of(failures->begin(), failures->end(), [&](auto& f) { return f.index == m; });
        if (!failed)
            CONENAT_TRY(delete_each(table, elems.subspan(ranges[m].first, ranges[m].count)));
    }
    return {};
}

Status Nftables::Impl::delete_each(const std::string& table, std::span<const MapElement> elems) {
    for (std::size_t i = 0; i < elems.size(); ++i) {
        auto failures = send_elements(table, NFT_MSG_DELSETELEM, elems.subspan(i, 1));
        if (!failures)
            return Error{failures.error()};
        if (!all_errors(*failures, {ENOENT}))
            return detail::to_status(*failures);
    }
    return {};
}

Status Nftables::Impl::add_elements(const std::string& table, std::span<const MapElement> elems) {
    std::vector<ElementRange> ranges;
    auto failures = send_elements(table, NFT_MSG_NEWSETELEM, elems, &ranges);
    if (!failures)
        return Error{failures.error()};
    if (failures->empty())
        return {};
    // EBUSY: a key is there already with other data (re-adding the same data is fine, as
    // NLM_F_EXCL is not set). The new mapping wins: delete those keys, then add again.
    if (!all_errors(*failures, {EBUSY, EEXIST}))
        return detail::to_status(*failures);
    for (const NftFailure& f : *failures) {
        const ElementRange r = ranges[f.index];
        CONENAT_TRY(delete_keys(table, elems.subspan(r.first, r.count)));
    }
    NftBatch again = sock.batch();
    detail::add_element_messages(again, table, NFT_MSG_NEWSETELEM, elems);
    again.end();
    return commit(again);
}

Status Nftables::add(const NatMaps& maps, std::span<const MappingElement> mappings) {
    return in_chunks(detail::map_elements(maps, mappings),
                     [&](std::span<const MapElement> part) { return m_impl->add_elements(maps.table, part); });
}

Status Nftables::remove_elements(const NatMaps& maps, std::span<const MappingElement> mappings) {
    return in_chunks(detail::map_elements(maps, mappings),
                     [&](std::span<const MapElement> part) { return m_impl->delete_keys(maps.table, part); });
}

Result<ChainCounters> Nftables::counters(const std::string& table) {
    ChainCounters c;
    bool parse_failed = false;
    auto fill = [&](nlmsghdr* nlh) {
        detail::NftnlPtr<nftnl_rule> r(nftnl_rule_alloc());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
        nftnl_rule_nlmsg_build_payload(nlh, r.get());
    };
    auto on_rule = [&](const nlmsghdr* nlh) {
        detail::NftnlPtr<nftnl_rule> r(nftnl_rule_alloc());
        if (!r || nftnl_rule_nlmsg_parse(nlh, r.get()) < 0) {
            parse_failed = true;
            return;
        }
        if (std::string_view(nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE)) != table)
            return;
        std::uint64_t* sum = &c[nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN)];
        nftnl_expr_iter* it = nftnl_expr_iter_create(r.get());
        for (nftnl_expr* e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it)) {
            if (std::strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter") == 0)
                *sum += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
        }
        nftnl_expr_iter_destroy(it);
    };
    CONENAT_TRY(m_impl->sock.dump(NFT_MSG_GETRULE, fill, on_rule));
    if (parse_failed)
        return Error{"nftables: cannot parse a rule of table " + table};
    return c;
}

} // namespace conenat::io
