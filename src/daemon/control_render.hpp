// How the control socket's answers are written: aligned text tables for people and JSON
// (doc/conenatctl.schema.json) for programs. conenatctl prints either as it comes.
#pragma once

#include "conenat/core/nat/config.hpp"
#include "conenat/core/types.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace conenat::daemon {

// A text table: a header row, then rows; columns padded to their widest cell.
class TextTable {
public:
    explicit TextTable(std::vector<std::string> header) : m_rows{std::move(header)} {}
    void add(std::vector<std::string> row) { m_rows.push_back(std::move(row)); }
    std::string render() const;

private:
    std::vector<std::vector<std::string>> m_rows;
};

// A JSON text written in order: the caller opens and closes objects and arrays; commas and
// string escapes are the writer's.
class JsonWriter {
public:
    JsonWriter& begin_object() { return open('{'); }
    JsonWriter& end_object() { return close('}'); }
    JsonWriter& begin_array() { return open('['); }
    JsonWriter& end_array() { return close(']'); }
    JsonWriter& key(std::string_view k);
    JsonWriter& value(std::string_view s);
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(std::uint64_t n);
    JsonWriter& value(bool b);
    JsonWriter& null();
    JsonWriter& endpoint(core::Endpoint e); // {"address": "a.b.c.d", "port": n}
    std::string take() { return std::move(m_out) + "\n"; }

private:
    JsonWriter& open(char bracket);
    JsonWriter& close(char bracket);
    void separate();
    std::string m_out;
    std::vector<bool> m_first{true}; // per open container: no element written yet
    bool m_after_key = false;
};

std::string duration_text(std::uint64_t ms); // "4m59s", "2h04m", "-" for never
std::string ports_text(const core::PortSet& ports); // "1024-32767,61000-65535" (long sets cut)

} // namespace conenat::daemon
