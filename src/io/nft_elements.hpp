// Internal: the map elements of mappings, and the NEWSETELEM / DELSETELEM messages that
// carry them, split so that no message outgrows the kernel's u16 attribute nest.
#pragma once

#include "conenat/io/nftables.hpp"
#include "nft_batch.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace conenat::io::detail {

struct MapElement {
    std::string_view map;               // one of the snat_* / dnat_* names
    std::array<std::uint8_t, 16> key{}; // up to four 32-bit slots
    std::uint8_t key_len = 0;
    std::array<std::uint8_t, 8> data{}; // ipv4_addr . inet_service
};

// The elements of `mappings` under the layouts of `maps`, grouped by map (snat for every
// protocol, dnat external -> internal for UDP and TCP).
std::vector<MapElement> map_elements(const NatMaps& maps, std::span<const MappingElement> mappings);

// A message of the batch covers elements [first, first + count).
struct ElementRange {
    std::size_t first = 0, count = 0;
};

// Appends messages of `type` (NFT_MSG_NEWSETELEM with data, or a delete type with keys only)
// for `elems`, in order; returns one range per message appended.
std::vector<ElementRange> add_element_messages(NftBatch& batch, const std::string& table, std::uint16_t type,
                                               std::span<const MapElement> elems);

// Bytes of one element inside the list nest (headers included), with or without data.
std::size_t element_bytes(const MapElement& e, bool with_data);
// Largest total of element_bytes() per message: the elements nest length is a u16.
constexpr std::size_t kMaxElementBytes = 60000;

} // namespace conenat::io::detail
