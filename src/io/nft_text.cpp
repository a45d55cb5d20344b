// Nftables::render(RuleSet): a described rule set as `nft list table` prints it (pure).
#include "conenat/io/nftables.hpp"

#include "nft_common.hpp"
#include "nft_install.hpp"
#include "nft_typeof.hpp"

#include <sstream>

namespace conenat::io {

namespace {

const char* type_text(nft::Type t) {
    switch (t) {
    case nft::Type::Ipv4Addr: return "ipv4_addr";
    case nft::Type::InetService: return "inet_service";
    case nft::Type::InetProto: return "inet_proto";
    case nft::Type::Verdict: break;
    }
    return "verdict";
}

std::string types_text(const std::vector<nft::Type>& types) {
    std::string s;
    for (nft::Type t : types)
        s += (s.empty() ? "" : " . ") + std::string(type_text(t));
    return s;
}

const char* hook_text(nft::Hook h) {
    switch (h) {
    case nft::Hook::Prerouting: return "prerouting";
    case nft::Hook::Input: return "input";
    case nft::Hook::Forward: return "forward";
    case nft::Hook::Output: return "output";
    case nft::Hook::Postrouting: break;
    }
    return "postrouting";
}

// nft names the standard priorities of the ip family, and a priority up to 10 from one
// relative to it (nftables src/rule.c, std_prios and prio2str).
std::string priority_text(nft::Hook hook, int prio) {
    struct Std {
        const char* name;
        int prio;
        bool pre, post; // dstnat: prerouting only; srcnat: postrouting only
    };
    static constexpr Std kStd[] = {{"raw", -300, true, true},  {"mangle", -150, true, true},
                                   {"dstnat", -100, true, false}, {"filter", 0, true, true},
                                   {"security", 50, true, true}, {"srcnat", 100, false, true}};
    for (const Std& s : kStd) {
        if ((!s.pre && hook != nft::Hook::Postrouting) || (!s.post && hook != nft::Hook::Prerouting))
            continue;
        const int offset = prio - s.prio;
        if (offset == 0)
            return s.name;
        if (offset >= -10 && offset <= 10)
            return std::string(s.name) + (offset < 0 ? " - " : " + ") + std::to_string(offset < 0 ? -offset : offset);
    }
    return std::to_string(prio);
}

std::string key_text(nft::Type t, std::uint32_t v) {
    return t == nft::Type::Ipv4Addr ? detail::ipv4_text(v) : std::to_string(v);
}

void render_set(std::ostream& out, const nft::Set& s) {
    out << "\t" << (s.data.empty() ? "set " : "map ") << s.name << " {\n\t\t";
    if (!s.key_typeof.empty())
        out << "typeof " << detail::typeof_text(s.key_typeof);
    else
        out << "type " << types_text(s.key);
    if (!s.data.empty())
        out << " : " << (s.data_typeof.empty() ? types_text(s.data) : detail::typeof_text(s.data_typeof));
    out << "\n";
    if (s.size)
        out << "\t\tsize " << s.size << "\n";
    if (s.interval)
        out << "\t\tflags interval\n";
    if (s.dynamic)
        out << "\t\tflags dynamic,timeout\n";
    if (!s.elements.empty()) {
        const nft::Type t = s.key[0];
        out << "\t\telements = { ";
        // nft breaks the list after every 2 addresses or 5 ports (src/expression.c, calculate_delim).
        const std::size_t per_line = t == nft::Type::Ipv4Addr ? 2 : 5;
        std::size_t n = 0;
        auto element = [&](const std::string& key, const std::string& chain) {
            out << (n == 0 ? "" : n % per_line ? ", " : ",\n\t\t\t     ") << key
                << (chain.empty() ? "" : " : goto " + chain);
            ++n;
        };
        for (const nft::Element& e : s.elements) {
            if (s.interval)
                element(key_text(t, e.first) + (e.last != e.first ? "-" + key_text(t, e.last) : ""), e.goto_chain);
            else
                for (std::uint64_t k = e.first; k <= e.last; ++k)
                    element(key_text(t, std::uint32_t(k)), e.goto_chain);
        }
        out << " }\n";
    }
    out << "\t}\n";
}

} // namespace

std::string Nftables::render(const nft::RuleSet& rules) {
    std::ostringstream out;
    std::istringstream comment(rules.comment);
    for (std::string line; std::getline(comment, line);)
        out << "# " << line << "\n";
    out << "table ip " << rules.table << " {\n\tcomment \"" << nft::kOwnTableComment << "\"\n";
    const char* delim = ""; // a blank line between objects
    for (const nft::Set& s : rules.sets) {
        out << delim;
        render_set(out, s);
        delim = "\n";
    }
    for (const nft::Chain& c : rules.chains) {
        out << delim << "\tchain " << c.name << " {\n";
        delim = "\n";
        if (c.base)
            out << "\t\ttype " << c.base->type << " hook " << hook_text(c.base->hook) << " priority "
                << priority_text(c.base->hook, c.base->priority) << "; policy accept;\n";
        for (const nft::Rule& r : c.rules)
            out << "\t\t" << detail::text_of(r) << "\n";
        out << "\t}\n";
    }
    out << "}\n";
    return out.str();
}

} // namespace conenat::io
