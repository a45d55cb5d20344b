#include "nft_elements.hpp"

#include "nft_layout.hpp"
#include "nft_objects.hpp"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>

#include <string>

namespace conenat::io::detail {

namespace {
using core::Proto;

} // namespace

std::vector<MapElement> map_elements(const NatMaps& maps, std::span<const MappingElement> mappings) {
    std::vector<MapElement> out;
    out.reserve(mappings.size() * 2);
    // Grouped by map so that each message names one set.
    for (Proto p : {Proto::Udp, Proto::Tcp, Proto::Icmp}) {
        const auto skey = snat_key(p, maps.mapping(p));
        for (const MappingElement& m : mappings) {
            if (m.proto != p)
                continue;
            MapElement e;
            e.map = snat_map(p);
            e.key_len = static_cast<std::uint8_t>(key_len(skey));
            encode_key(skey, m.internal, m.remote, e.key.data());
            encode_endpoint(m.external, e.data.data());
            out.push_back(e);
        }
        if (p == Proto::Icmp)
            continue; // replies find their way back through conntrack
        const auto dkey = dnat_key();
        for (const MappingElement& m : mappings) {
            if (m.proto != p)
                continue;
            MapElement e;
            e.map = dnat_map(p);
            e.key_len = static_cast<std::uint8_t>(key_len(dkey));
            encode_key(dkey, {}, m.external, e.key.data());
            encode_endpoint(m.internal, e.data.data());
            out.push_back(e);
        }
    }
    return out;
}

std::size_t element_bytes(const MapElement& e, bool with_data) {
    // element nest + key nest + key value [+ data nest + data value], 4-byte headers each
    std::size_t n = 4 + 4 + 4 + MNL_ALIGN(e.key_len);
    if (with_data)
        n += 4 + 4 + MNL_ALIGN(e.data.size());
    return n;
}

std::vector<ElementRange> add_element_messages(NftBatch& batch, const std::string& table, std::uint16_t type,
                                               std::span<const MapElement> elems) {
    const bool with_data = type == NFT_MSG_NEWSETELEM;
    const char* verb = with_data ? "add" : "delete";
    std::vector<ElementRange> ranges;
    NftnlPtr<nftnl_set_elem> el(nftnl_set_elem_alloc());
    std::size_t i = 0;
    while (i < elems.size()) {
        ElementRange r{i, 0};
        std::size_t bytes = 0;
        while (i < elems.size() && elems[i].map == elems[r.first].map &&
               bytes + element_bytes(elems[i], with_data) <= kMaxElementBytes) {
            bytes += element_bytes(elems[i], with_data);
            ++i;
            ++r.count;
        }
        const std::string map(elems[r.first].map);
        const std::string what = std::string(verb) + " " + std::to_string(r.count) + " elements of map " + map;
        batch.add(type, with_data ? NLM_F_CREATE : 0, what, [&](nlmsghdr* nlh) {
            mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table.c_str());
            mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, map.c_str());
            nlattr* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
            for (std::size_t k = 0; k < r.count; ++k) {
                const MapElement& e = elems[r.first + k];
                nftnl_set_elem_set(el.get(), NFTNL_SET_ELEM_KEY, e.key.data(), e.key_len);
                if (with_data)
                    nftnl_set_elem_set(el.get(), NFTNL_SET_ELEM_DATA, e.data.data(), e.data.size());
                nftnl_set_elem_nlmsg_build(nlh, el.get(), static_cast<int>(k + 1));
            }
            mnl_attr_nest_end(nlh, list);
        }, r.first);
        ranges.push_back(r);
    }
    return ranges;
}

} // namespace conenat::io::detail
