// `stats`: the engine's counters (Engine::stats(), "name value" lines) as a table or JSON;
// `--prometheus`: the exposition text (engine::prometheus_text, the metrics module).
#include "control_handlers.hpp"
#include "control_render.hpp"

#if __has_include("conenat/engine/metrics.hpp")
#include "conenat/engine/metrics.hpp"
#define CONENAT_CTL_PROMETHEUS 1
#endif

#include "conenat/util/text.hpp"

namespace conenat::daemon {

ControlReply handle_stats(const ctl::Request& request, ControlContext& context) {
    if (request.prometheus) {
#ifdef CONENAT_CTL_PROMETHEUS
        return {{}, engine::prometheus_text(context.engine)};
#else
        return control_error("stats --prometheus: not yet available in this build (the Prometheus exposition is not built in)");
#endif
    }
    const std::string text = context.engine.stats();
    std::vector<std::pair<std::string, std::string>> lines;
    for (std::size_t at = 0; at < text.size();) {
        std::size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        const std::string line = text.substr(at, end - at);
        at = end + 1;
        const std::size_t space = line.find(' ');
        if (space == std::string::npos || space == 0) continue;
        lines.emplace_back(line.substr(0, space), line.substr(space + 1));
    }
    if (request.json) {
        JsonWriter j;
        j.begin_object().key("stats").begin_object();
        for (const auto& [name, value] : lines) {
            j.key(name);
            if (const auto n = text::parse_uint(value, 0, ~std::uint64_t(0)); n && value.find_first_not_of("0123456789") == std::string::npos)
                j.value(*n);
            else
                j.value(value);
        }
        return {{}, j.end_object().end_object().take()};
    }
    TextTable t({"COUNTER", "VALUE"});
    for (const auto& [name, value] : lines) t.add({name, value});
    return {{}, t.render()};
}

} // namespace conenat::daemon
