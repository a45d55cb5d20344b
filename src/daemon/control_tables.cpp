#include "control_tables.hpp"

#include "control_render.hpp"
#include "conenat/util/ctl_request.hpp"
#include "conenat/util/text.hpp"

#include <algorithm>
#include <tuple>

namespace conenat::daemon {

namespace {

std::string_view short_mapping(core::Behaviour b) {
    return b == core::Behaviour::EndpointIndependent ? "EIM" : b == core::Behaviour::AddressDependent ? "ADM" : "APDM";
}
std::string_view short_filtering(core::Behaviour b) {
    return b == core::Behaviour::EndpointIndependent ? "EIF" : b == core::Behaviour::AddressDependent ? "ADF" : "APDF";
}
auto order(core::Proto p, core::Endpoint i, core::Endpoint e, core::Endpoint r) {
    return std::make_tuple(std::uint8_t(p), i.addr, i.port, e.addr, e.port, r.addr, r.port);
}
std::string endpoint(core::Endpoint e) { return text::format_endpoint(e); }
std::string expiry(std::uint64_t ms) { return ms == core::kNoExpiry ? "never" : duration_text(ms); }

// The envelope every listing shares: counts, truncation, then the rows under `name` (the
// array left open), each row opened with its protocol and endpoints.
void envelope(JsonWriter& j, const engine::TableView& v, const char* name) {
    j.begin_object().key("mapping_count").value(v.mapping_count).key("session_count").value(v.session_count);
    j.key("truncated").value(v.truncated).key(name).begin_array();
}
template <typename Row>
void open_row(JsonWriter& j, const Row& r) {
    j.begin_object().key("proto").value(ctl::proto_name(r.proto));
    j.key("internal").endpoint(r.internal).key("external").endpoint(r.external);
}
void expiry_json(JsonWriter& j, std::uint64_t ms) {
    j.key("expires_in_ms");
    if (ms == core::kNoExpiry) j.null();
    else j.value(ms);
}

} // namespace

std::string render_mappings(engine::TableView& v, bool json) {
    std::sort(v.mappings.begin(), v.mappings.end(), [](const core::MappingRow& a, const core::MappingRow& b) {
        return order(a.proto, a.internal, a.external, a.remote) < order(b.proto, b.internal, b.external, b.remote);
    });
    if (json) {
        JsonWriter j;
        envelope(j, v, "mappings");
        for (const core::MappingRow& m : v.mappings) {
            open_row(j, m);
            j.key("remote");
            if (m.policy.mapping == core::Behaviour::EndpointIndependent) j.null();
            else j.endpoint(m.remote);
            j.key("mapping").value(core::to_string(m.policy.mapping));
            j.key("filtering").value(core::to_string(m.policy.filtering));
            j.key("forward").value(m.forward).key("idle_ms").value(m.idle_ms);
            expiry_json(j, m.expires_in_ms);
            j.key("sessions").value(std::uint64_t(m.sessions)).key("flows").value(std::uint64_t(m.flows));
            j.key("inbound_sessions").value(std::uint64_t(m.inbound)).end_object();
        }
        return j.end_array().end_object().take();
    }
    TextTable t({"PROTO", "INTERNAL", "EXTERNAL", "REMOTE", "BEHAVIOUR", "IDLE", "EXPIRES", "SESSIONS", "FLOWS"});
    for (const core::MappingRow& m : v.mappings)
        t.add({std::string(ctl::proto_name(m.proto)), endpoint(m.internal), endpoint(m.external),
               m.policy.mapping == core::Behaviour::EndpointIndependent ? "*" : endpoint(m.remote),
               std::string(short_mapping(m.policy.mapping)) + "+" + std::string(short_filtering(m.policy.filtering)) +
                   (m.forward ? " forward" : ""),
               m.forward ? "-" : duration_text(m.idle_ms), expiry(m.expires_in_ms), std::to_string(m.sessions),
               std::to_string(m.flows)});
    std::string out = t.render();
    out += std::to_string(v.mappings.size()) + " mapping" + (v.mappings.size() == 1 ? "" : "s") + " listed (" +
           std::to_string(v.mapping_count) + " in the table" + (v.tables > 1 ? "s" : "") + ")";
    if (v.truncated) out += "; more matched than listed";
    return out + "\n";
}

std::string render_sessions(engine::TableView& v, bool json) {
    std::sort(v.sessions.begin(), v.sessions.end(), [](const core::SessionRow& a, const core::SessionRow& b) {
        return order(a.proto, a.internal, a.external, a.remote) < order(b.proto, b.internal, b.external, b.remote);
    });
    auto state = [](const core::SessionRow& s) -> std::string {
        return s.tcp == core::TcpState::None ? "permit" : std::string(core::to_string(s.tcp));
    };
    if (json) {
        JsonWriter j;
        envelope(j, v, "sessions");
        for (const core::SessionRow& s : v.sessions) {
            open_row(j, s);
            j.key("remote").endpoint(s.remote);
            j.key("state").value(state(s)).key("inbound").value(s.inbound).key("flows").value(std::uint64_t(s.flows));
            expiry_json(j, s.expires_in_ms);
            j.end_object();
        }
        return j.end_array().end_object().take();
    }
    TextTable t({"PROTO", "INTERNAL", "EXTERNAL", "REMOTE", "STATE", "OPENED", "EXPIRES", "FLOWS"});
    for (const core::SessionRow& s : v.sessions)
        t.add({std::string(ctl::proto_name(s.proto)), endpoint(s.internal), endpoint(s.external), endpoint(s.remote),
               state(s), s.inbound ? "outside" : "inside", expiry(s.expires_in_ms), std::to_string(s.flows)});
    std::string out = t.render();
    out += std::to_string(v.sessions.size()) + " session" + (v.sessions.size() == 1 ? "" : "s") + " listed (" +
           std::to_string(v.session_count) + " in the table" + (v.tables > 1 ? "s" : "") + ")";
    if (v.truncated) out += "; more matched than listed";
    return out + "\n";
}

} // namespace conenat::daemon
