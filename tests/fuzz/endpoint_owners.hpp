// The fuzz targets' outside oracle for "never share a port" (RFC 4787 REQ-1/REQ-2): learned only
// from the packets the translator let through, never from its tables. An external endpoint
// refreshed by an outbound packet at t belongs to its internal endpoint until t + the mapping
// timeout (its mapping must live that long, RFC 4787 REQ-5 / RFC 5382 REQ-5); no other internal
// endpoint may appear behind it before then. Under endpoint-independent mapping the internal
// endpoint also keeps that external endpoint for as long (REQ-1: one mapping for every remote).
#pragma once

#include "conenat/core/types.hpp"
#include "conenat/util/text.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

namespace conenat::test {

class EndpointOwners {
public:
    // An outbound packet of `internal` left with source `external` at `now`; its mapping now lives
    // at least until now + `lifetime`. Returns the violation, or "".
    std::string refreshed(core::Proto p, core::Endpoint external, core::Endpoint internal, core::TimeMs now,
                          core::TimeMs lifetime, bool independent) {
        if (independent) {
            const Key key{std::uint8_t(p), internal.addr, internal.port};
            auto [it, fresh] = m_mapped.try_emplace(key, Owner{external, now + lifetime});
            if (!fresh && it->second.internal != external && now < it->second.alive_until)
                return "internal " + text::format_endpoint(internal) + " (proto " + std::to_string(int(p)) +
                       ") left as " + text::format_endpoint(external) + " while its mapping to " +
                       text::format_endpoint(it->second.internal) + " must live " +
                       std::to_string(it->second.alive_until - now) + " ms more";
            it->second = Owner{external, now + lifetime};
        }
        return claim(p, external, internal, now, now + lifetime);
    }
    // An inbound packet to `external` was delivered to `internal` at `now`: the mapping exists
    // now (its lifetime after `now` is unknown). Returns the violation, or "".
    std::string delivered(core::Proto p, core::Endpoint external, core::Endpoint internal, core::TimeMs now) {
        return claim(p, external, internal, now, now + 1);
    }

private:
    struct Owner {
        core::Endpoint internal;  // in m_mapped: the external endpoint
        core::TimeMs alive_until; // exclusive: its mapping must exist at every earlier time
    };
    using Key = std::tuple<std::uint8_t, core::Ipv4, std::uint16_t>;

    std::string claim(core::Proto p, core::Endpoint external, core::Endpoint internal, core::TimeMs now,
                      core::TimeMs until) {
        const Key key{std::uint8_t(p), external.addr, external.port};
        auto [it, fresh] = m_owners.try_emplace(key, Owner{internal, until});
        if (fresh) return {};
        Owner& o = it->second;
        if (o.internal == internal) {
            if (until > o.alive_until) o.alive_until = until;
            return {};
        }
        if (now < o.alive_until)
            return "external " + text::format_endpoint(external) + " (proto " + std::to_string(int(p)) +
                   ") used by " + text::format_endpoint(internal) + " while " + text::format_endpoint(o.internal) +
                   "'s mapping must live " + std::to_string(o.alive_until - now) + " ms more";
        o = Owner{internal, until};
        return {};
    }

    std::map<Key, Owner> m_owners; // external endpoint -> internal
    std::map<Key, Owner> m_mapped; // internal endpoint -> external (endpoint-independent mapping only)
};

} // namespace conenat::test
