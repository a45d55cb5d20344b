// Parsers for the text forms of addresses, prefixes, port sets and numbers used by the
// options and the config file. Pure; they never throw: nullopt on bad input, `why` says what.
#pragma once

#include "conenat/core/nat/config.hpp"
#include "conenat/core/nat/port_set.hpp"
#include "conenat/core/types.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conenat::text {

std::optional<core::Ipv4> parse_ipv4(std::string_view s);
using Prefix = core::Prefix;
// "10.0.0.0/24"; host bits must be zero.
std::optional<Prefix> parse_cidr(std::string_view s, std::string* why = nullptr);
// "20000-29999", "5000", "1024-2047,4096-8191"; at least one port, none is 0.
std::optional<std::vector<core::PortRange>> parse_port_ranges(std::string_view s, std::string* why = nullptr);
// "psid=44,psid-len=8,offset=4" (RFC 7597 §5.1): the port set.
std::optional<core::PortSet> parse_map_e(std::string_view s, std::string* why = nullptr);
// A static port forward: "udp:51820=192.168.1.10:51820", "tcp:203.0.113.1:8080=10.0.0.5:80";
// the internal port may be left out (the same as the external one). No external address: the
// first external address (core::Forward).
std::optional<core::Forward> parse_forward(std::string_view s, std::string* why = nullptr);
// Decimal or 0x-hex unsigned integer within [min, max].
std::optional<std::uint64_t> parse_uint(std::string_view s, std::uint64_t min, std::uint64_t max);
std::string format_ipv4(core::Ipv4 a);
std::string format_endpoint(core::Endpoint e);

} // namespace conenat::text
