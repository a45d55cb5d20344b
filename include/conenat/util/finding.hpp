// One line of `conenatctl check`'s report: OK, PROBLEM (with what to do) or NOTE, in plain
// words. Written by the daemon's local check and by conenatctl's STUN check alike.
#pragma once

#include <cstdint>
#include <string>

namespace conenat {

struct Finding {
    enum class Level : std::uint8_t { Ok, Problem, Note };
    Level level;
    std::string text;
};

// "OK      text\n", "PROBLEM text\n", "NOTE    text\n": the level word first, for people and grep.
inline std::string render(const Finding& f) {
    const char* level = f.level == Finding::Level::Ok ? "OK      " : f.level == Finding::Level::Problem ? "PROBLEM " : "NOTE    ";
    return level + f.text + "\n";
}

} // namespace conenat
