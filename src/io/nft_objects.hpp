// Internal: move-only owners of libnftnl objects.
#pragma once

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include <memory>

namespace conenat::io::detail {

struct NftnlFree {
    void operator()(nftnl_table* p) const noexcept { nftnl_table_free(p); }
    void operator()(nftnl_chain* p) const noexcept { nftnl_chain_free(p); }
    void operator()(nftnl_rule* p) const noexcept { nftnl_rule_free(p); }
    void operator()(nftnl_expr* p) const noexcept { nftnl_expr_free(p); }
    void operator()(nftnl_set* p) const noexcept { nftnl_set_free(p); }
    void operator()(nftnl_set_elem* p) const noexcept { nftnl_set_elem_free(p); }
    void operator()(nftnl_udata_buf* p) const noexcept { nftnl_udata_buf_free(p); }
};

template <typename T>
using NftnlPtr = std::unique_ptr<T, NftnlFree>;

} // namespace conenat::io::detail
