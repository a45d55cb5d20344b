// NFQUEUE (libnetfilter_queue + libmnl): takes packets, returns verdicts in batches, with a
// mark or with the packet's rewritten bytes.
#pragma once

#include "conenat/io/fd.hpp"
#include "conenat/util/result.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

namespace conenat::io {

// The netfilter hook a packet was queued from (the values of NF_INET_*).
enum class Hook : std::uint8_t { PreRouting = 0, LocalIn = 1, Forward = 2, LocalOut = 3, PostRouting = 4, Other = 0xff };

struct QueuedPacket {
    std::uint32_t id = 0;
    Hook hook = Hook::Other;
    std::uint32_t mark = 0;
    std::span<std::uint8_t> bytes; // the IPv4 packet (up to the copy range); valid until the next receive()
    std::uint32_t length = 0;      // the whole packet's length (> bytes.size() when cut at the copy range)
    bool checksum_partial = false; // NFQA_SKB_CSUMNOTREADY: offloaded, the L4 checksum is not filled in yet
    bool gso = false;              // NFQA_SKB_GSO: a GSO/GRO super-packet (may be longer than the MTU)
};

// How a queue is bound.
struct QueueOptions {
    std::uint32_t maxlen = 4096;     // packets waiting in the kernel; overflow is dropped (or accepted: fail_open)
    std::uint32_t copy_range = 256;  // bytes per packet; a rewritten payload needs the whole packet (0xffff)
    // NFQA_CFG_F_GSO: GSO packets come whole, their checksums possibly partial. Off: the kernel
    // segments them and completes every checksum before queueing (slower, never partial).
    bool gso = true;
    bool fail_open = false;          // NFQA_CFG_F_FAIL_OPEN: a full queue accepts instead of dropping
};

enum class Verdict : std::uint8_t { Accept, Drop, Repeat };

class NfQueue {
public:
    // Binds queue `num` (copy mode, `copy_range` bytes per packet, at most `maxlen` packets
    // waiting in the kernel; overflow is dropped by the kernel, fail-open off). Non-blocking.
    static Result<NfQueue> open(std::uint16_t num, std::uint32_t maxlen, std::uint32_t copy_range = 256);
    static Result<NfQueue> open(std::uint16_t num, const QueueOptions& options);
    NfQueue(NfQueue&&) noexcept;
    NfQueue& operator=(NfQueue&&) noexcept;
    ~NfQueue(); // unbinds

    int fd() const;
    // Drains the socket without blocking (recvmmsg): up to out.size() packets, returns how many.
    Result<std::size_t> receive(std::span<QueuedPacket> out);
    // Queues a verdict (with an optional new mark); sent by flush() — many in one sendmsg.
    void verdict(std::uint32_t id, Verdict v, std::optional<std::uint32_t> mark = std::nullopt);
    // One verdict (and mark) for every packet still in the queue with an id up to `max_id`
    // (NFQNL_MSG_VERDICT_BATCH): only when the caller verdicts every packet it received, in order.
    void verdict_batch(std::uint32_t max_id, Verdict v, std::optional<std::uint32_t> mark = std::nullopt);
    // The same, and the packet becomes `payload` (NFQA_PAYLOAD, e.g. its own bytes rewritten in
    // place). Not copied: `payload` must stay valid until flush(). The kernel marks the packet
    // CHECKSUM_NONE (nfqnl_mangle): every checksum in `payload` is taken as final.
    void verdict_with_payload(std::uint32_t id, Verdict v, std::span<const std::uint8_t> payload,
                              std::optional<std::uint32_t> mark = std::nullopt);
    Status flush();
    // Packets the kernel dropped because the queue was full, and the user-space drops (from
    // /proc/net/netfilter/nfnetlink_queue).
    struct Stats { std::uint64_t queue_dropped = 0, user_dropped = 0, id_sequence = 0; };
    Result<Stats> stats() const;

private:
    struct Impl;
    explicit NfQueue(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace conenat::io
