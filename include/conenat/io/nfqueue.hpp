// NFQUEUE (libnetfilter_queue + libmnl): takes first packets, returns verdicts in batches.
#pragma once

#include "conenat/util/result.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

namespace conenat::io {

struct QueuedPacket {
    std::uint32_t id = 0;
    std::uint8_t hook = 0;      // NF_INET_* hook the packet was queued from
    std::uint32_t mark = 0;
    std::span<std::uint8_t> bytes; // the IPv4 packet (up to the copy range); valid until the next receive()
    std::uint32_t length = 0;      // the whole packet's length (> bytes.size() when cut at the copy range)
    bool checksum_partial = false; // NFQA_SKB_CSUMNOTREADY: offloaded, the L4 checksum is not filled in yet
};

enum class Verdict : std::uint8_t { Accept, Drop, Repeat };

class NfQueue {
public:
    // Binds queue `num` (copy mode, `copy_range` bytes per packet, at most `maxlen` packets
    // waiting in the kernel; overflow is dropped by the kernel, fail-open off). Non-blocking.
    static Result<NfQueue> open(std::uint16_t num, std::uint32_t maxlen, std::uint32_t copy_range = 256);
    NfQueue(NfQueue&&) noexcept;
    NfQueue& operator=(NfQueue&&) noexcept;
    ~NfQueue(); // unbinds

    int fd() const;
    // Drains the socket without blocking: up to out.size() packets, returns how many.
    Result<std::size_t> receive(std::span<QueuedPacket> out);
    // Queues a verdict (with an optional new mark); sent by flush() — many in one sendmsg.
    void verdict(std::uint32_t id, Verdict v, std::optional<std::uint32_t> mark = std::nullopt);
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

// Sends raw IPv4 packets (ICMP errors the daemon originates), IP_HDRINCL.
class RawIpSocket {
public:
    static Result<RawIpSocket> open();
    RawIpSocket(RawIpSocket&&) noexcept;
    RawIpSocket& operator=(RawIpSocket&&) noexcept;
    ~RawIpSocket();
    Status send(std::span<const std::uint8_t> packet);

private:
    explicit RawIpSocket(int fd) : m_fd(fd) {}
    int m_fd = -1;
};

} // namespace conenat::io
