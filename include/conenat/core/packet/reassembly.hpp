// IPv4 fragment reassembly for the engines that see fragments themselves (the tun engine:
// no conntrack defragmentation in front of it). RFC 4787 REQ-14: fragments are accepted in
// any order; REQ-14a: bounded — a fixed number of slots allocated up front, a per-source share
// of them, a deadline per datagram, and the oldest unfinished datagram evicted when all slots
// are taken, so a flood of incomplete fragment trains costs a bounded amount of memory and
// never touches unfragmented traffic. Pure: no allocation after construction, no clock (the
// caller passes `now`).
#pragma once

#include "conenat/core/types.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace conenat::core {

struct ReassemblyConfig {
    std::size_t slots = 64;             // datagrams in reassembly at once (at least 1)
    std::size_t slots_per_source = 16;  // of those, at most this many from one source address (at least 1)
    TimeMs timeout_ms = 30'000;         // a datagram not complete by then is dropped (Linux ipfrag_time)
    std::size_t max_datagram = 65535;   // total length limit (IPv4's own)
};

// fragments_in: packets that claim to be fragments (MF or an offset); datagrams_done: Complete;
// dropped_*: one Dropped result each (dropped_overlap also counts fragments that contradict the
// datagram's known end); evicted / timed_out: unfinished datagrams freed to make room / by age.
#define CONENAT_REASSEMBLY_COUNTERS(X)                                                              \
    X(fragments_in) X(datagrams_done) X(dropped_malformed) X(dropped_overlap) X(dropped_too_big)   \
    X(dropped_source_share) X(evicted) X(timed_out)

struct ReassemblyCounters {
#define CONENAT_REASSEMBLY_FIELD(name) std::uint64_t name = 0;
    CONENAT_REASSEMBLY_COUNTERS(CONENAT_REASSEMBLY_FIELD)
#undef CONENAT_REASSEMBLY_FIELD
};

class Reassembler {
public:
    explicit Reassembler(const ReassemblyConfig& config = {});
    ~Reassembler();
    Reassembler(Reassembler&&) noexcept;
    Reassembler& operator=(Reassembler&&) noexcept;

    enum class Status : std::uint8_t {
        NotFragment, // neither MF nor an offset (or no IPv4 header to tell): use the packet as it is
        Incomplete,  // kept (or an exact duplicate, ignored); more fragments needed
        Complete,    // `datagram` is the whole packet
        Dropped,     // malformed, overlapping, too big or over the source's share (counted)
    };
    struct Result {
        Status status = Status::NotFragment;
        // When Complete: the reassembled IPv4 packet (the first fragment's header with MF and
        // offset cleared, total length and header checksum set). Valid until the next feed().
        std::span<std::uint8_t> datagram;
    };

    // One IPv4 packet (may be a fragment). Datagrams are keyed by (source, destination,
    // protocol, identification) (RFC 791). Overlapping fragments drop the whole datagram (as
    // Linux does since 4.19 / RFC 5722's reasoning); an exact duplicate is ignored. Only a
    // packet that claims to be a fragment is judged: anything else, malformed or not, is
    // NotFragment and left to the parser.
    Result feed(std::span<const std::uint8_t> packet, TimeMs now);
    // Drops datagrams past their deadline (also done lazily by feed()).
    void expire(TimeMs now);

    std::size_t in_progress() const { return m_in_progress; }
    const ReassemblyCounters& counters() const { return m_counters; }

private:
    struct Slot;
    struct Fragment;

    Slot* find(const Fragment& f);
    Slot* start(const Fragment& f, TimeMs now);
    Result add(Slot& slot, const Fragment& f);
    Result complete(Slot& slot);
    Result drop(Slot* slot, std::uint64_t& counter);
    void release(Slot& slot);

    ReassemblyConfig m_config;
    std::vector<Slot> m_slots;
    // Every slot's buffer (header room + payload) and received-unit bitmaps, in two blocks.
    std::unique_ptr<std::uint8_t[]> m_buffers;
    std::unique_ptr<std::uint64_t[]> m_bitmaps;
    std::size_t m_in_progress = 0;
    TimeMs m_next_deadline = 0; // no slot expires before this (feed() sweeps only from then)
    ReassemblyCounters m_counters;
};

} // namespace conenat::core
