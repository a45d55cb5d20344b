#include "conenat/util/text.hpp"

#include <charconv>

namespace conenat::text {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    for (std::size_t at = 0;;) {
        const std::size_t next = s.find(sep, at);
        out.push_back(s.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at));
        if (next == std::string_view::npos) return out;
        at = next + 1;
    }
}

bool set_why(std::string* why, std::string text) {
    if (why) *why = std::move(text);
    return false;
}

} // namespace

std::optional<std::uint64_t> parse_uint(std::string_view s, std::uint64_t min, std::uint64_t max) {
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s.remove_prefix(2);
        base = 16;
    }
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < min || v > max) return std::nullopt;
    return v;
}

std::optional<core::Ipv4> parse_ipv4(std::string_view s) {
    const auto parts = split(s, '.');
    if (parts.size() != 4) return std::nullopt;
    core::Ipv4 a = 0;
    for (std::string_view p : parts) {
        if (p.empty() || p.size() > 3) return std::nullopt;
        const auto v = parse_uint(p, 0, 255);
        if (!v || (p.size() > 1 && p[0] == '0')) return std::nullopt; // no octal-looking octets
        a = a << 8 | core::Ipv4(*v);
    }
    return a;
}

std::optional<Prefix> parse_cidr(std::string_view s, std::string* why) {
    const std::size_t slash = s.find('/');
    if (slash == std::string_view::npos) return set_why(why, "expected ADDRESS/LENGTH"), std::nullopt;
    const auto addr = parse_ipv4(s.substr(0, slash));
    const auto len = parse_uint(s.substr(slash + 1), 0, 32);
    if (!addr) return set_why(why, "bad address"), std::nullopt;
    if (!len) return set_why(why, "prefix length must be 0..32"), std::nullopt;
    if (*addr & ~Prefix::mask_of(*len)) return set_why(why, "host bits are set"), std::nullopt;
    return Prefix{*addr, std::uint8_t(*len)};
}

std::optional<std::vector<core::PortRange>> parse_port_ranges(std::string_view s, std::string* why) {
    std::vector<core::PortRange> out;
    for (std::string_view item : split(s, ',')) {
        const std::size_t dash = item.find('-');
        const auto first = parse_uint(item.substr(0, dash), 1, 65535);
        const auto last = dash == std::string_view::npos ? first : parse_uint(item.substr(dash + 1), 1, 65535);
        if (!first || !last) return set_why(why, "ports are 1..65535: '" + std::string(item) + "'"), std::nullopt;
        if (*last < *first) return set_why(why, "empty range '" + std::string(item) + "'"), std::nullopt;
        out.push_back({std::uint16_t(*first), std::uint16_t(*last)});
    }
    return out;
}

std::optional<core::PortSet> parse_map_e(std::string_view s, std::string* why) {
    std::optional<std::uint64_t> psid, len, offset;
    for (std::string_view item : split(s, ',')) {
        const std::size_t eq = item.find('=');
        const std::string_view key = item.substr(0, eq);
        const auto v = eq == std::string_view::npos ? std::nullopt : parse_uint(item.substr(eq + 1), 0, 65535);
        if (!v) return set_why(why, "expected key=number: '" + std::string(item) + "'"), std::nullopt;
        if (key == "psid") psid = v;
        else if (key == "psid-len") len = v;
        else if (key == "offset") offset = v;
        else return set_why(why, "unknown key '" + std::string(key) + "' (psid, psid-len, offset)"), std::nullopt;
    }
    if (!psid || !len) return set_why(why, "psid and psid-len are required"), std::nullopt;
    std::string error;
    auto set = core::PortSet::map_e(unsigned(*psid), unsigned(*len), unsigned(offset.value_or(6)), &error);
    if (!set) return set_why(why, error), std::nullopt;
    return set;
}

std::string format_ipv4(core::Ipv4 a) {
    return std::to_string(a >> 24) + "." + std::to_string(a >> 16 & 255) + "." + std::to_string(a >> 8 & 255) + "." +
           std::to_string(a & 255);
}

std::string format_endpoint(core::Endpoint e) { return format_ipv4(e.addr) + ":" + std::to_string(e.port); }

namespace {
std::optional<std::uint16_t> parse_port(std::string_view s) {
    const auto v = parse_uint(s, 1, 65535);
    return v ? std::optional<std::uint16_t>(std::uint16_t(*v)) : std::nullopt;
}
} // namespace

std::optional<core::Forward> parse_forward(std::string_view s, std::string* why) {
    auto fail = [why](const std::string& w) -> std::optional<core::Forward> {
        if (why) *why = w;
        return std::nullopt;
    };
    constexpr const char* kForm = "expected PROTO:[ADDRESS:]PORT=ADDRESS[:PORT], e.g. udp:51820=192.168.1.10:51820";
    const std::size_t eq = s.find('=');
    if (eq == std::string_view::npos || s.find('=', eq + 1) != std::string_view::npos) return fail(kForm);
    const auto outside = split(s.substr(0, eq), ':');
    const auto inside = split(s.substr(eq + 1), ':');
    if (outside.size() < 2 || outside.size() > 3 || inside.empty() || inside.size() > 2) return fail(kForm);
    core::Forward f;
    if (outside[0] == "udp") f.proto = core::Proto::Udp;
    else if (outside[0] == "tcp") f.proto = core::Proto::Tcp;
    else return fail("protocol must be udp or tcp, got '" + std::string(outside[0]) + "'");
    if (outside.size() == 3) {
        const auto a = parse_ipv4(outside[1]);
        if (!a) return fail("not an IPv4 address: '" + std::string(outside[1]) + "'");
        f.external.addr = *a;
    }
    const auto ext_port = parse_port(outside.back());
    if (!ext_port) return fail("not a port (1-65535): '" + std::string(outside.back()) + "'");
    f.external.port = *ext_port;
    const auto int_addr = parse_ipv4(inside[0]);
    if (!int_addr) return fail("not an IPv4 address: '" + std::string(inside[0]) + "'");
    f.internal.addr = *int_addr;
    f.internal.port = f.external.port;
    if (inside.size() == 2) {
        const auto p = parse_port(inside[1]);
        if (!p) return fail("not a port (1-65535): '" + std::string(inside[1]) + "'");
        f.internal.port = *p;
    }
    return f;
}

} // namespace conenat::text
