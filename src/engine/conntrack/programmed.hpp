// What the conntrack engine has put into the kernel's NAT maps, by mapping: the elements to
// replay when the table comes back (deleted by someone else, reinstalled by a reconfiguration),
// to delete when the mapping ends, and the mapping behaviour each mapping was made with, which
// decides the maps' key type after a reconfiguration (the finest any live mapping needs).
#pragma once

#include "conenat/core/nat/config.hpp"
#include "conenat/io/nat_maps.hpp"

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

namespace conenat::engine {

// The remote part of a snat key under `b` (what the map key holds of it).
inline core::Endpoint key_remote(core::Proto p, core::Behaviour b, core::Endpoint remote) {
    if (b == core::Behaviour::EndpointIndependent) return {};
    if (b == core::Behaviour::AddressDependent || p == core::Proto::Icmp) return {remote.addr, 0};
    return remote;
}

class ProgrammedMappings {
public:
    // A mapping's element (or one more of its per-flow elements), made under behaviour `b`.
    // Returns false when the mapping already has an element with that remote.
    bool add(const io::MappingElement& e, core::Behaviour b) {
        Entry& entry = m_entries[key_of(e)];
        if (entry.remotes.empty()) entry.behaviour = b;
        for (const core::Endpoint& r : entry.remotes)
            if (r == e.remote) return false;
        entry.remotes.push_back(e.remote);
        return true;
    }
    // Every element of the mapping of `e` (proto, internal, external) that is in the maps,
    // forgotten (none while it is withdrawn).
    std::vector<io::MappingElement> take(const io::MappingElement& e) {
        std::vector<io::MappingElement> out;
        const auto it = m_entries.find(key_of(e));
        if (it == m_entries.end()) return out;
        if (!it->second.withdrawn) out = elements(it->first, it->second);
        else --m_withdrawn;
        m_entries.erase(it);
        return out;
    }
    // Every element in the maps, for a replay.
    std::vector<io::MappingElement> all() const {
        std::vector<io::MappingElement> out;
        for (const auto& [k, entry] : m_entries)
            if (!entry.withdrawn)
                for (const core::Endpoint& r : entry.remotes) out.push_back({k.proto, k.internal, r, k.external});
        return out;
    }
    // The release check (events.cpp) takes a due mapping's elements out of the maps while it
    // looks for its flows, so that no new flow can start on it unseen meanwhile: its elements
    // to delete, remembered (none if it has none in the maps).
    std::vector<io::MappingElement> withdraw(core::Proto p, core::Endpoint internal, core::Endpoint external) {
        const auto it = m_entries.find({p, internal, external});
        if (it == m_entries.end() || it->second.withdrawn) return {};
        it->second.withdrawn = true;
        ++m_withdrawn;
        return elements(it->first, it->second);
    }
    // A withdrawn mapping's elements again (to add), or none if it is not withdrawn.
    std::vector<io::MappingElement> reinstate(core::Proto p, core::Endpoint internal, core::Endpoint external) {
        const auto it = m_entries.find({p, internal, external});
        if (it == m_entries.end() || !it->second.withdrawn) return {};
        it->second.withdrawn = false;
        --m_withdrawn;
        return elements(it->first, it->second);
    }
    std::size_t withdrawn() const { return m_withdrawn; }
    bool withdrawn(const io::MappingElement& e) const {
        const auto it = m_entries.find(key_of(e));
        return it != m_entries.end() && it->second.withdrawn;
    }
    // The finest of `wanted` and the behaviours of the live mappings of `p`: a key of that
    // granularity expresses each of them (a coarser mapping through per-flow elements).
    core::Behaviour finest(core::Proto p, core::Behaviour wanted) const {
        for (const auto& [k, entry] : m_entries)
            if (k.proto == p && std::uint8_t(entry.behaviour) > std::uint8_t(wanted)) wanted = entry.behaviour;
        return wanted;
    }
    std::size_t size() const { return m_entries.size(); }
    void clear() {
        m_entries.clear();
        m_withdrawn = 0;
    }

private:
    struct Key {
        core::Proto proto;
        core::Endpoint internal, external;
        bool operator==(const Key&) const = default;
    };
    struct Hash {
        std::size_t operator()(const Key& k) const {
            const std::uint64_t a = (std::uint64_t(k.internal.addr) << 32) | (std::uint64_t(k.internal.port) << 16) |
                                    std::uint64_t(k.proto);
            const std::uint64_t b = (std::uint64_t(k.external.addr) << 16) | k.external.port;
            return std::hash<std::uint64_t>{}(a * 0x9e3779b97f4a7c15ull ^ b);
        }
    };
    struct Entry {
        core::Behaviour behaviour{};
        std::vector<core::Endpoint> remotes; // the stored remote first, then per-flow ones
        bool withdrawn = false;              // out of the maps for a release check
    };
    static Key key_of(const io::MappingElement& e) { return {e.proto, e.internal, e.external}; }
    static std::vector<io::MappingElement> elements(const Key& k, const Entry& entry) {
        std::vector<io::MappingElement> out;
        for (const core::Endpoint& r : entry.remotes) out.push_back({k.proto, k.internal, r, k.external});
        return out;
    }
    std::unordered_map<Key, Entry, Hash> m_entries;
    std::size_t m_withdrawn = 0;
};

} // namespace conenat::engine
