// Internal: one nf_tables transaction (batch begin .. end) and the socket that commits it,
// checking the ACK of every message by sequence number.
#pragma once

#include "netlink.hpp"

#include <linux/netfilter.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

struct nlmsghdr;

namespace conenat::io::detail {

class NftBatch {
public:
    // `storage`: a buffer to write into (reused across batches: no allocation per batch).
    explicit NftBatch(std::uint32_t first_seq, std::vector<char> storage = {});

    // Appends one NFT_MSG_* message for the ip family (NLM_F_ACK added); `fill` writes its
    // payload. `what` names the object in errors; `tag` is the caller's (e.g. a chunk index).
    void add(std::uint16_t type, std::uint16_t flags, std::string what,
             const std::function<void(nlmsghdr*)>& fill, std::size_t tag = 0);
    // Closes the batch; no add() after this.
    void end();

    std::size_t messages() const { return m_what.size(); }
    std::size_t bytes() const { return m_used; }
    const char* data() const { return m_buf.data(); }
    std::uint32_t begin_seq() const { return m_first_seq; }
    std::uint32_t message_seq(std::size_t index) const { return m_first_seq + 1 + std::uint32_t(index); }
    std::uint32_t end_seq() const { return m_seq; } // valid after end()
    const std::string& what(std::size_t index) const { return m_what[index]; }
    std::size_t tag(std::size_t index) const { return m_tag[index]; }
    std::vector<char> take_storage() { return std::move(m_buf); }

private:
    char* reserve();

    std::vector<char> m_buf;
    std::size_t m_used = 0;
    std::uint32_t m_first_seq, m_seq;  // batch begin is first_seq; messages follow it
    std::vector<std::string> m_what;
    std::vector<std::size_t> m_tag;
};

// A message of a committed batch that the kernel refused.
struct NftFailure {
    std::size_t index = 0; // message index in the batch
    int error = 0;         // errno
    std::string text;      // "<what>: <strerror> [(<extack>)]"
};

// The NETLINK_NETFILTER socket used for nf_tables (NETLINK_CAP_ACK, NETLINK_EXT_ACK).
class NftSocket {
public:
    static Result<NftSocket> open();

    // A new batch (numbered after everything sent so far) in this socket's spare buffer.
    NftBatch batch();
    // Sends the whole batch in one sendmsg and collects one ACK per message. The kernel
    // applies all or nothing: any failure means nothing of the batch was committed.
    Result<std::vector<NftFailure>> commit(NftBatch& batch);
    // Runs a dump request of `type` (NLM_F_DUMP) for `family` (NFPROTO_*); `fill` writes the
    // request payload, `on_message` sees every reply message.
    Status dump(std::uint16_t type, const std::function<void(nlmsghdr*)>& fill,
                const std::function<void(const nlmsghdr*)>& on_message, std::uint16_t family = NFPROTO_IPV4);
    std::uint32_t portid() const { return m_sock.portid(); }
    // The first sequence number for the next NftBatch.
    std::uint32_t next_seq() const { return m_seq; }

private:
    explicit NftSocket(NetlinkSocket sock, std::uint32_t seq) : m_sock(std::move(sock)), m_seq(seq) {}
    NetlinkSocket m_sock;
    std::uint32_t m_seq;
    std::size_t m_sndbuf = 0;
    std::vector<char> m_spare; // batch storage between batches
    std::vector<char> m_rx;    // ACK receive buffer
};

// "what: strerror" for each failure, joined; Error only when `failures` is not empty.
Status to_status(const std::vector<NftFailure>& failures);

} // namespace conenat::io::detail
