#include "control_render.hpp"

#include "conenat/core/nat/table_view.hpp"
#include "conenat/util/text.hpp"

#include <algorithm>
#include <cstdio>

namespace conenat::daemon {

std::string TextTable::render() const {
    std::vector<std::size_t> width;
    for (const auto& row : m_rows)
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], row[i].size());
        }
    std::string out;
    for (const auto& row : m_rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
        }
        out += line + "\n";
    }
    return out;
}

void JsonWriter::separate() {
    if (m_after_key) {
        m_after_key = false;
        return;
    }
    if (!m_first.back()) m_out += ',';
    m_first.back() = false;
}

JsonWriter& JsonWriter::open(char bracket) {
    separate();
    m_out += bracket;
    m_first.push_back(true);
    return *this;
}
JsonWriter& JsonWriter::close(char bracket) {
    m_first.pop_back();
    m_out += bracket;
    return *this;
}
JsonWriter& JsonWriter::key(std::string_view k) {
    value(k);
    m_out += ':';
    m_after_key = true;
    return *this;
}
JsonWriter& JsonWriter::value(std::string_view s) {
    separate();
    m_out += '"';
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            m_out += '\\';
            m_out += c;
        } else if (u < 0x20) { // RFC 8259 §7: control characters escaped
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", u);
            m_out += esc;
        } else {
            m_out += c;
        }
    }
    m_out += '"';
    return *this;
}
JsonWriter& JsonWriter::value(std::uint64_t n) {
    separate();
    m_out += std::to_string(n);
    return *this;
}
JsonWriter& JsonWriter::value(bool b) {
    separate();
    m_out += b ? "true" : "false";
    return *this;
}
JsonWriter& JsonWriter::null() {
    separate();
    m_out += "null";
    return *this;
}
JsonWriter& JsonWriter::endpoint(core::Endpoint e) {
    return begin_object().key("address").value(text::format_ipv4(e.addr)).key("port").value(std::uint64_t(e.port)).end_object();
}

std::string duration_text(std::uint64_t ms) {
    if (ms == core::kNoExpiry) return "never";
    const std::uint64_t s = ms / 1000;
    char buf[32];
    if (s < 60) std::snprintf(buf, sizeof buf, "%llus", (unsigned long long)s);
    else if (s < 3600) std::snprintf(buf, sizeof buf, "%llum%02llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
    else if (s < 86400) std::snprintf(buf, sizeof buf, "%lluh%02llum", (unsigned long long)(s / 3600), (unsigned long long)(s / 60 % 60));
    else std::snprintf(buf, sizeof buf, "%llud%02lluh", (unsigned long long)(s / 86400), (unsigned long long)(s / 3600 % 24));
    return buf;
}

std::string ports_text(const core::PortSet& ports) {
    constexpr std::size_t kShown = 16;
    std::string s;
    const auto& r = ports.ranges();
    for (std::size_t i = 0; i < r.size() && i < kShown; ++i) {
        s += (s.empty() ? "" : ",") + std::to_string(r[i].first);
        if (r[i].last != r[i].first) s += "-" + std::to_string(r[i].last);
    }
    if (r.size() > kShown) s += ",... (" + std::to_string(r.size()) + " ranges)";
    return s;
}

} // namespace conenat::daemon
