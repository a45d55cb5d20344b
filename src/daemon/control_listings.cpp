// `mappings`, `sessions` (each engine's tables, copied by their owners) and `forwards`.
#include "control_handlers.hpp"
#include "control_render.hpp"
#include "control_tables.hpp"

#include "conenat/util/ctl_request.hpp"
#include "conenat/util/text.hpp"

namespace conenat::daemon {

namespace {

Result<engine::TableView> rows(const ctl::Request& request, ControlContext& context, bool mappings) {
    engine::ViewRequest want;
    want.mappings = mappings;
    want.sessions = !mappings;
    want.filter = request.filter;
    return context.engine.view(want);
}

} // namespace

ControlReply handle_mappings(const ctl::Request& request, ControlContext& context) {
    auto view = rows(request, context, true);
    if (!view) return control_error("the engine did not answer: " + view.error());
    return {{}, render_mappings(*view, request.json)};
}

ControlReply handle_sessions(const ctl::Request& request, ControlContext& context) {
    auto view = rows(request, context, false);
    if (!view) return control_error("the engine did not answer: " + view.error());
    return {{}, render_sessions(*view, request.json)};
}

ControlReply handle_forwards(const ctl::Request& request, ControlContext& context) {
    auto view = context.engine.view({});
    if (!view) return control_error("the engine did not answer: " + view.error());
    const core::NatConfig& c = view->config;
    // A forward without its own address follows the first external address (core::Forward).
    auto external = [&](const core::Forward& f) {
        core::Endpoint e = f.external;
        if (!e.addr && !c.pool.external_addrs.empty()) e.addr = c.pool.external_addrs.front();
        return e;
    };
    if (request.json) {
        JsonWriter j;
        j.begin_object().key("forwards").begin_array();
        for (const core::Forward& f : c.forwards) {
            j.begin_object().key("proto").value(ctl::proto_name(f.proto)).key("spec").value(core::to_string(f));
            j.key("external").endpoint(external(f)).key("follows_first_address").value(f.external.addr == 0);
            j.key("internal").endpoint(f.internal).end_object();
        }
        return {{}, j.end_array().end_object().take()};
    }
    TextTable t({"PROTO", "EXTERNAL", "INTERNAL", "AS CONFIGURED"});
    for (const core::Forward& f : c.forwards)
        t.add({std::string(ctl::proto_name(f.proto)), text::format_endpoint(external(f)) + (f.external.addr ? "" : " (first address)"),
               text::format_endpoint(f.internal), core::to_string(f)});
    return {{}, c.forwards.empty() ? std::string("no forwards\n") : t.render()};
}

} // namespace conenat::daemon
