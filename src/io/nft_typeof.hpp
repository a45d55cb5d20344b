// Internal: nft's `typeof` declaration of a set (nft_rules.hpp Payload): its text, and the set
// user data nft itself writes for it, which `nft list` reads back to print the declaration.
#pragma once

#include "conenat/io/nft_rules.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace conenat::io::detail {

// "ip saddr . icmp id" of the fields.
std::string typeof_text(const std::vector<nft::Payload>& fields);
// NFTNL_SET_USERDATA declaring key (and data, when not empty) by these fields; empty when
// `key` is.
// NFTNL_SET_USERDATA of a set of the raw transport-header payload @th,<offset>,<bits>: nft
// then lists its elements as it lists that payload's values (in hex), as for its own sets.
std::vector<std::uint8_t> raw_th_userdata(std::uint32_t offset_bits, std::uint32_t bits);

std::vector<std::uint8_t> typeof_userdata(const std::vector<nft::Payload>& key, const std::vector<nft::Payload>& data);

} // namespace conenat::io::detail
