// The `mappings` and `sessions` listings as text tables or JSON (doc/conenatctl.schema.json),
// sorted by protocol, internal and external endpoint. Pure: the benchmark renders 100 k rows.
#pragma once

#include "conenat/engine/view.hpp"

#include <string>

namespace conenat::daemon {

std::string render_mappings(engine::TableView& view, bool json);
std::string render_sessions(engine::TableView& view, bool json);

} // namespace conenat::daemon
