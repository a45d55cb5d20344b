// Table-driven NAT fixtures: a scenario is a config and a list of steps, each a packet in
// one direction with the expected verdict and (when translated) the expected bytes.
#pragma once

#include "conenat/core/nat/translator.hpp"
#include "tests/support/packet_builder.hpp"

#include <functional>
#include <string>
#include <vector>

namespace conenat::test {

// The lab of ../shared/docs/rfc-conformance.md §0.
inline const char* const E1 = "198.51.100.254";
inline const char* const E2 = "198.51.100.253";

// What one step produced, kept so later steps can refer to it.
struct Seen {
    core::Outcome outcome;
    Bytes packet; // after translation (or as dropped)
    Bytes reply;  // ICMP error for the sender, if any
    core::PacketView view;
};

struct Step {
    core::Direction dir;
    Bytes input;
    core::Action action;
    Bytes expected = {};                 // translated bytes; empty: not compared
    core::Counter reason = core::Counter::translated_out; // for Drop / Hold
    core::TimeMs advance_ms = 0;         // clock moves this much before the step
    std::function<void(const Seen& now, const std::vector<Seen>& before)> check = {};
};

struct Scenario {
    std::string id;   // requirement ID(s), e.g. "UDP-1"
    std::string what; // description
    core::NatConfig config;
    std::vector<Step> steps;
};

// A config like the lab's DUT: E1 (and more addresses), the given NAT type.
core::NatConfig lab_config(core::NatType type, std::vector<const char*> external = {E1});
// lab_config with small tables: 64 mappings, 128 sessions.
core::NatConfig small_config(core::NatType type);

// Runs every step; reports failures through doctest with the scenario and step named.
void run(const Scenario& s);

inline Step out(Bytes p, core::Action a, Bytes expected = {}) { return {core::Direction::Outbound, std::move(p), a, std::move(expected)}; }
inline Step in(Bytes p, core::Action a, Bytes expected = {}) { return {core::Direction::Inbound, std::move(p), a, std::move(expected)}; }
inline Step dropped(Step s, core::Counter why) { s.reason = why; return s; }
inline Step after(core::TimeMs ms, Step s) { s.advance_ms = ms; return s; }
inline Step checked(Step s, std::function<void(const Seen&, const std::vector<Seen>&)> c) { s.check = std::move(c); return s; }

} // namespace conenat::test
