// libFuzzer target: the option/config value parsers on arbitrary text. Requires no crash and
// that whatever parses round-trips through its printed form.
#include "conenat/util/text.hpp"

#include <cstdlib>
#include <string_view>

using namespace conenat;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view s(reinterpret_cast<const char*>(data), size);
    if (const auto a = text::parse_ipv4(s); a && text::parse_ipv4(text::format_ipv4(*a)) != a) std::abort();
    if (const auto p = text::parse_cidr(s); p && (p->len > 32 || (p->len < 32 && (p->addr & (0xffffffffu >> p->len)))))
        std::abort();
    if (const auto r = text::parse_port_ranges(s)) {
        const core::PortSet set = core::PortSet::from_ranges(*r);
        if (set.empty()) std::abort(); // parse_port_ranges never yields port 0 only
        for (const core::PortRange& range : *r)
            if (!set.contains(range.first) || !set.contains(range.last)) std::abort();
    }
    if (const auto set = text::parse_map_e(s)) {
        for (std::uint32_t i = 0; i < set->size(); i += 7)
            if (set->index_of(set->at(i)) != i) std::abort();
    }
    (void)text::parse_uint(s, 0, ~0ull);
    return 0;
}
