#include "disposition.hpp"

namespace conenat::engine {

using core::Action;

Disposition dispose(const core::Outcome& o, const core::PacketView& view, const Context& c, const Steering& steering) {
    Disposition d;
    // RFC 5382 REQ-4: the inside opened the connection; the SYN held for it is not needed.
    d.release = o.token != 0 && o.action != Action::Hold;
    if (o.action == Action::ToOutside || o.action == Action::ToInside) {
        d.fate = Fate::Deliver;
        return d;
    }
    d.reply = o.action == Action::Drop && o.reply_len > 0;
    // A hairpin whose outbound half this worker did, but whose inbound half (which failed here:
    // no mapping, or a held SYN) belongs to another worker: that worker does it.
    if (c.may_hand_off && !c.handed_off)
        if (const auto owner = steering.hairpin_owner(view)) {
            d.fate = Fate::HandOff;
            d.worker = *owner;
            return d;
        }
    if (o.action == Action::Hold)
        d.fate = Fate::Hold;
    else if (c.may_go_to_router && c.dir == core::Direction::Inbound && router_icmp(o.reason, view))
        d.fate = Fate::ToRouter;
    else
        d.fate = Fate::Drop;
    return d;
}

} // namespace conenat::engine
