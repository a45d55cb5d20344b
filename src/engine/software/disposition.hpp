// What a software worker does with a packet once the core has translated it: the one place
// that turns the core's Outcome into an act of the worker's port. Pure: fixture-tested.
#pragma once

#include "conenat/core/nat/translator.hpp"
#include "steering.hpp"

#include <cstdint>

namespace conenat::engine {

enum class Fate : std::uint8_t {
    Deliver,  // translated: on to its next hop
    ToRouter, // untranslated, to the router's own stack (ICMP of the router's own flows)
    HandOff,  // to `worker`, which owns the inbound half of this hairpinned packet
    Hold,     // an unsolicited SYN, kept under the outcome's token (RFC 5382 REQ-4)
    Drop,
};

struct Disposition {
    Fate fate = Fate::Drop;
    unsigned worker = 0;  // HandOff: to whom
    bool reply = false;   // also send the sender the ICMP error in the reply buffer
    bool release = false; // the outcome's token is a held SYN the inside answered: drop that one
};

// What the worker knows of a packet beside its outcome.
struct Context {
    core::Direction dir = core::Direction::Outbound;
    bool handed_off = false;   // the inbound half of a hairpin another worker began
    bool may_hand_off = true;  // its port can pass it to another worker
    bool may_go_to_router = true; // its port can give it to the router's own stack
};

// The fate of a packet the core saw as `view` (after translation) with outcome `o`.
Disposition dispose(const core::Outcome& o, const core::PacketView& view, const Context& c, const Steering& steering);

} // namespace conenat::engine
