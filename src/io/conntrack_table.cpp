#include "conenat/io/conntrack_table.hpp"

#include "conenat/io/sysctl.hpp"

#include <charconv>
#include <string>
#include <vector>

namespace conenat::io {

namespace {

std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        const std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
        if (i > start) out.push_back(line.substr(start, i - start));
    }
    return out;
}

Result<std::uint64_t> read_number(const char* path) {
    auto text = read_sysctl(path);
    if (!text) return Error{text.error()};
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (ec != std::errc{}) return Error{std::string(path) + ": not a number: '" + *text + "'"};
    (void)end;
    return v;
}

} // namespace

std::optional<std::uint64_t> parse_conntrack_stat(std::string_view stat, std::string_view name) {
    std::optional<std::size_t> column;
    std::uint64_t sum = 0;
    while (!stat.empty()) {
        const std::size_t nl = stat.find('\n');
        const std::string_view line = stat.substr(0, nl);
        stat = nl == std::string_view::npos ? std::string_view{} : stat.substr(nl + 1);
        const std::vector<std::string_view> w = words(line);
        if (!column) { // the header
            for (std::size_t i = 0; i < w.size(); ++i)
                if (w[i] == name) column = i;
            if (!column) return std::nullopt;
            continue;
        }
        if (*column >= w.size()) continue;
        std::uint64_t v = 0;
        const std::string_view cell = w[*column];
        if (std::from_chars(cell.data(), cell.data() + cell.size(), v, 16).ec == std::errc{}) sum += v;
    }
    if (!column) return std::nullopt;
    return sum;
}

Result<ConntrackTableState> read_conntrack_table() {
    ConntrackTableState s;
    auto count = read_number("/proc/sys/net/netfilter/nf_conntrack_count");
    if (!count) return Error{count.error()};
    auto max = read_number("/proc/sys/net/netfilter/nf_conntrack_max");
    if (!max) return Error{max.error()};
    s.count = *count;
    s.max = *max;
    if (auto stat = read_sysctl("/proc/net/stat/nf_conntrack")) {
        if (auto drops = parse_conntrack_stat(*stat, "drop")) s.drops = *drops;
        if (auto evictions = parse_conntrack_stat(*stat, "early_drop")) s.evictions = *evictions;
    }
    return s;
}

} // namespace conenat::io
