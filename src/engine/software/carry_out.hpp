// How a software worker carries out a packet's disposition through its port — the NFQUEUE
// port of the queue engine, the TUN port of the tun engine, a fake one in the unit tests. A
// Port, for its own kind of Packet, has:
//   bool hand_off(unsigned worker, Packet&)  false: it could not (a full ring), so the packet
//                                            meets the fate it has without a hand-off
//   void release(std::uint32_t token)        drop the held SYN whose connection the inside opened
//   void reply(std::span<const std::uint8_t>) send the sender the ICMP error the core wrote
//   void deliver(Packet&), to_router(Packet&), hold(Packet&, std::uint32_t token), drop(Packet&)
#pragma once

#include "disposition.hpp"
#include "worker_stats.hpp"

namespace conenat::engine {

template <typename Port, typename Packet, std::size_t Own>
void carry_out(Port& port, Packet& p, const core::PacketRef& ref, Context c, const Steering& steering,
               PublishedStats<Own>& stats) {
    const core::Outcome& o = ref.outcome;
    Disposition d = dispose(o, ref.view, c, steering);
    if (d.fate == Fate::HandOff) {
        if (port.hand_off(d.worker, p)) {
            // The core here tried the inbound half and counted its failure (no mapping, or a
            // held SYN): that half happens in the other worker, which counts it there.
            stats.handed_off(o.reason);
        } else {
            c.may_hand_off = false;
            d = dispose(o, ref.view, c, steering);
        }
    }
    if (d.release)
        port.release(o.token);
    if (d.reply)
        port.reply(ref.reply.first(o.reply_len));
    switch (d.fate) {
    case Fate::Deliver:
        if (c.handed_off) // the core of the first worker could not count it: this one does
            stats.handed_off(core::Counter::hairpinned, -1);
        port.deliver(p);
        return;
    case Fate::ToRouter:
        port.to_router(p);
        return;
    case Fate::Hold:
        port.hold(p, o.token);
        return;
    case Fate::Drop:
        port.drop(p);
        return;
    case Fate::HandOff:
        return;
    }
}

} // namespace conenat::engine
