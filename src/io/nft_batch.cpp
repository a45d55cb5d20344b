#include "nft_batch.hpp"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <time.h>

#include <algorithm>
#include <cstring>

namespace conenat::io::detail {

namespace {
constexpr std::size_t kMaxMessage = 128 * 1024; // an element message stays below 64 KiB
constexpr int kAckTimeoutMs = 5000;
constexpr std::size_t kMaxReported = 5;
} // namespace

NftBatch::NftBatch(std::uint32_t first_seq, std::vector<char> storage)
    : m_buf(std::move(storage)), m_first_seq(first_seq), m_seq(first_seq) {
    nlmsghdr* nlh = nftnl_batch_begin(reserve(), m_seq++);
    m_used += NLMSG_ALIGN(nlh->nlmsg_len);
}

char* NftBatch::reserve() {
    if (m_buf.size() < m_used + kMaxMessage)
        m_buf.resize(std::max(m_buf.size() * 2, m_used + kMaxMessage));
    return m_buf.data() + m_used;
}

void NftBatch::add(std::uint16_t type, std::uint16_t flags, std::string what,
                   const std::function<void(nlmsghdr*)>& fill, std::size_t tag) {
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(reserve(), type, NFPROTO_IPV4, flags | NLM_F_ACK, m_seq++);
    fill(nlh);
    m_used += NLMSG_ALIGN(nlh->nlmsg_len);
    m_what.push_back(std::move(what));
    m_tag.push_back(tag);
}

void NftBatch::end() {
    nlmsghdr* nlh = nftnl_batch_end(reserve(), m_seq);
    m_used += NLMSG_ALIGN(nlh->nlmsg_len);
}

Result<NftSocket> NftSocket::open() {
    auto sock = NetlinkSocket::open();
    if (!sock)
        return Error{"nftables: " + sock.error()};
    // CAP_ACK: ACKs carry only the request header, so big batches cannot overrun the
    // receive buffer with echoed payloads; EXT_ACK: the kernel's reason, when it gives one.
    CONENAT_TRY(sock->set_flag(SOL_NETLINK, NETLINK_CAP_ACK, 1, "nftables: NETLINK_CAP_ACK"));
    CONENAT_TRY(sock->set_flag(SOL_NETLINK, NETLINK_EXT_ACK, 1, "nftables: NETLINK_EXT_ACK"));
    CONENAT_TRY(sock->force_rcvbuf(4u << 20));
    CONENAT_TRY(sock->set_recv_timeout_ms(kAckTimeoutMs));
    return NftSocket(std::move(sock.value()), static_cast<std::uint32_t>(time(nullptr)));
}

NftBatch NftSocket::batch() {
    return NftBatch(m_seq, std::move(m_spare));
}

Result<std::vector<NftFailure>> NftSocket::commit(NftBatch& batch) {
    m_seq = batch.end_seq() + 1;
    if (batch.bytes() + 4096 > m_sndbuf) {
        // netlink refuses a message longer than the send buffer (EMSGSIZE).
        m_sndbuf = std::max<std::size_t>(batch.bytes() * 2, 1u << 20);
        CONENAT_TRY(m_sock.force_sndbuf(m_sndbuf));
    }
    const long sent = m_sock.send(batch.data(), batch.bytes());
    m_spare = batch.take_storage();
    if (sent < 0)
        return sys_error("nftables: send batch");

    std::vector<NftFailure> failures;
    std::vector<bool> acked(batch.messages(), false);
    std::size_t remaining = batch.messages();
    std::vector<char>& buf = m_rx;
    buf.resize(MNL_SOCKET_BUFFER_SIZE);
    const std::uint32_t portid = m_sock.portid();
    while (remaining > 0) {
        auto n = receive_answers(m_sock.fd(), buf, "nftables: ACKs of " + std::to_string(batch.messages()) +
                                                       " messages (" + std::to_string(remaining) + " missing)");
        if (!n)
            return Error{n.error()};
        std::size_t left = *n;
        for (const nlmsghdr* nlh = fitting(buf.data(), left); nlh; nlh = next_message(nlh, left)) {
            if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != portid)
                continue;
            NetlinkAck ack = parse_ack(nlh);
            if (ack.seq == batch.begin_seq() || ack.seq == batch.end_seq()) {
                // The kernel blames the batch itself (e.g. out of memory): nothing else follows.
                if (ack.error == 0)
                    continue;
                failures.push_back({batch.messages(), ack.error, std::string("batch: ") + std::strerror(ack.error)});
                return failures;
            }
            std::size_t index = ack.seq - batch.message_seq(0);
            if (ack.seq < batch.message_seq(0) || index >= batch.messages() || acked[index])
                continue; // a late answer to an earlier batch
            acked[index] = true;
            --remaining;
            if (ack.error != 0) {
                std::string text = batch.what(index) + ": " + std::strerror(ack.error);
                if (!ack.message.empty())
                    text += " (" + std::string(ack.message) + ")";
                failures.push_back({index, ack.error, std::move(text)});
            }
        }
    }
    return failures;
}

Status NftSocket::dump(std::uint16_t type, const std::function<void(nlmsghdr*)>& fill,
                       const std::function<void(const nlmsghdr*)>& on_message, std::uint16_t family) {
    std::vector<char> buf(std::max<std::size_t>(MNL_SOCKET_BUFFER_SIZE, 64 * 1024));
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), type, family, NLM_F_DUMP, m_seq++);
    fill(nlh);
    return netlink_request(m_sock.fd(), m_sock.portid(), nlh, "nftables: dump", buf, on_message);
}

Status to_status(const std::vector<NftFailure>& failures) {
    if (failures.empty())
        return {};
    std::string text = "nftables: ";
    for (std::size_t i = 0; i < failures.size() && i < kMaxReported; ++i)
        text += (i ? "; " : "") + failures[i].text;
    if (failures.size() > kMaxReported)
        text += "; and " + std::to_string(failures.size() - kMaxReported) + " more";
    return Error{std::move(text)};
}

} // namespace conenat::io::detail
