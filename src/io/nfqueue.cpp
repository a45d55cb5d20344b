// NfQueue: one NFQUEUE queue over libmnl + libnetfilter_queue's nlmsg API.
#include "conenat/io/nfqueue.hpp"

#include "netlink.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

namespace conenat::io {

namespace {
constexpr std::size_t kVerdictChunk = 128 * 1024; // bytes of verdicts per sendmsg (~3000 verdicts)
constexpr std::size_t kVerdictMax = 256;           // bytes one verdict message may take

struct BatchStop {
    void operator()(mnl_nlmsg_batch* b) const noexcept { mnl_nlmsg_batch_stop(b); }
};

int to_nf(Verdict v) {
    return v == Verdict::Accept ? NF_ACCEPT : v == Verdict::Drop ? NF_DROP : NF_REPEAT;
}
} // namespace

struct NfQueue::Impl {
    Impl(detail::NetlinkSocket s, std::uint16_t n, std::size_t size) : sock(std::move(s)), num(n), buf_size(size) {}

    detail::NetlinkSocket sock;
    std::uint16_t num;
    std::size_t buf_size;
    std::vector<std::vector<std::uint8_t>> ring; // one receive buffer per packet of a receive()
    // The mnl batch may overrun its limit by one message: room for it past the limit.
    std::vector<char> verdict_buf = std::vector<char>(kVerdictChunk + kVerdictMax);
    std::unique_ptr<mnl_nlmsg_batch, BatchStop> verdicts{mnl_nlmsg_batch_start(verdict_buf.data(), kVerdictChunk)};
    std::optional<Error> deferred; // a failed send of a full batch, reported by flush()
    std::uint32_t seq = 1;

    Status send_verdicts();

    // Sends one config message and waits for its ACK.
    Status configure(const std::function<void(nlmsghdr*)>& fill, const char* what);
    bool parse(std::vector<std::uint8_t>& buf, long len, QueuedPacket& out);
};

Status NfQueue::Impl::configure(const std::function<void(nlmsghdr*)>& fill, const char* what) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = nfq_nlmsg_put(buf.data(), NFQNL_MSG_CONFIG, num);
    nlh->nlmsg_flags |= NLM_F_ACK;
    nlh->nlmsg_seq = ++seq;
    fill(nlh);
    const std::string prefix = "nfqueue " + std::to_string(num) + ": " + what;
    if (sock.send(nlh, nlh->nlmsg_len) < 0)
        return detail::sys_error(prefix);
    for (;;) {
        long n = sock.recv(buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return detail::sys_error(prefix);
        }
        int len = static_cast<int>(n);
        for (auto* m = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
            if (m->nlmsg_type != NLMSG_ERROR || m->nlmsg_seq != seq)
                continue;
            detail::NetlinkAck ack = detail::parse_ack(m);
            if (ack.error != 0)
                return detail::sys_error(prefix, ack.error);
            return {};
        }
    }
}

Result<NfQueue> NfQueue::open(std::uint16_t num, std::uint32_t maxlen, std::uint32_t copy_range) {
    auto sock = detail::NetlinkSocket::open();
    if (!sock)
        return Error{"nfqueue: " + sock.error()};
    const std::uint32_t range = std::min<std::uint32_t>(copy_range, 0xffff);
    // One packet message: up to the copy range plus its attributes.
    const std::size_t buf_size = range + static_cast<std::size_t>(MNL_SOCKET_BUFFER_SIZE) / 2;
    auto impl = std::make_unique<Impl>(std::move(sock.value()), num, buf_size);
    if (!impl->verdicts)
        return Error{"nfqueue: out of memory"};
    auto& s = impl->sock;
    // A full socket buffer makes the kernel drop the packet (counted as user_dropped): loss is
    // read from /proc, so the ENOBUFS report would only interrupt receive().
    CONENAT_TRY(s.set_flag(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1, "nfqueue: NETLINK_NO_ENOBUFS"));
    // The kernel answers a verdict for an id it no longer holds with an error: keep it small.
    CONENAT_TRY(s.set_flag(SOL_NETLINK, NETLINK_CAP_ACK, 1, "nfqueue: NETLINK_CAP_ACK"));
    const std::size_t rcvbuf = std::clamp<std::size_t>(std::size_t(maxlen) * (range + 1024), 1u << 20, 64u << 20);
    CONENAT_TRY(s.force_rcvbuf(rcvbuf));
    CONENAT_TRY(s.force_sndbuf(2 * kVerdictChunk));
    CONENAT_TRY(s.set_recv_timeout_ms(5000));

    CONENAT_TRY(impl->configure([](nlmsghdr* nlh) { nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND); }, "bind"));
    CONENAT_TRY(impl->configure(
        [&](nlmsghdr* nlh) {
            nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, static_cast<int>(range));
            nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen);
            // GSO: take GSO packets whole instead of segmenting (checksums may be partial).
            // FAIL_OPEN stays off: a full queue drops, it never bypasses the NAT.
            mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
            mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
        },
        "configure"));
    CONENAT_TRY(s.set_nonblocking());
    return NfQueue(std::move(impl));
}

NfQueue::NfQueue(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
NfQueue::NfQueue(NfQueue&&) noexcept = default;
NfQueue& NfQueue::operator=(NfQueue&&) noexcept = default;

NfQueue::~NfQueue() {
    if (!m_impl)
        return;
    (void)flush();
    char buf[256];
    nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, m_impl->num);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
    m_impl->sock.send(nlh, nlh->nlmsg_len); // closing the socket would unbind as well
}

int NfQueue::fd() const {
    return m_impl->sock.fd();
}

bool NfQueue::Impl::parse(std::vector<std::uint8_t>& buf, long n, QueuedPacket& out) {
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
        // NLMSG_ERROR here answers a verdict (e.g. an id the kernel no longer holds): nothing to do.
        if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFQNL_MSG_PACKET || NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_QUEUE)
            continue;
        nlattr* attr[NFQA_MAX + 1] = {};
        if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR] ||
            mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(nfqnl_msg_packet_hdr))
            continue;
        const auto* hdr = static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
        out = QueuedPacket{};
        out.id = ntohl(hdr->packet_id);
        out.hook = hdr->hook;
        if (attr[NFQA_MARK])
            out.mark = ntohl(mnl_attr_get_u32(attr[NFQA_MARK]));
        if (attr[NFQA_PAYLOAD]) {
            auto* p = static_cast<std::uint8_t*>(mnl_attr_get_payload(attr[NFQA_PAYLOAD]));
            out.bytes = {p, mnl_attr_get_payload_len(attr[NFQA_PAYLOAD])};
        }
        out.length = attr[NFQA_CAP_LEN] ? ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]))
                                        : static_cast<std::uint32_t>(out.bytes.size());
        if (attr[NFQA_SKB_INFO])
            out.checksum_partial = ntohl(mnl_attr_get_u32(attr[NFQA_SKB_INFO])) & NFQA_SKB_CSUMNOTREADY;
        return true;
    }
    return false;
}

Result<std::size_t> NfQueue::receive(std::span<QueuedPacket> out) {
    auto& ring = m_impl->ring;
    std::size_t n = 0;
    while (n < out.size()) {
        if (ring.size() <= n)
            ring.emplace_back(m_impl->buf_size);
        // recv() returns exactly one packet: batching is draining until EAGAIN.
        long len = m_impl->sock.recv(ring[n].data(), ring[n].size(), MSG_DONTWAIT);
        if (len < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR || errno == ENOBUFS)
                continue;
            if (n > 0)
                break; // deliver what we have; the error shows again on the next call
            return detail::sys_error("nfqueue " + std::to_string(m_impl->num) + ": recv");
        }
        if (m_impl->parse(ring[n], len, out[n]))
            ++n;
    }
    return n;
}

void NfQueue::verdict(std::uint32_t id, Verdict v, std::optional<std::uint32_t> mark) {
    mnl_nlmsg_batch* b = m_impl->verdicts.get();
    nlmsghdr* nlh = nfq_nlmsg_put(static_cast<char*>(mnl_nlmsg_batch_current(b)), NFQNL_MSG_VERDICT, m_impl->num);
    nfq_nlmsg_verdict_put(nlh, static_cast<int>(id), to_nf(v));
    if (mark)
        nfq_nlmsg_verdict_put_mark(nlh, *mark);
    if (!mnl_nlmsg_batch_next(b)) {
        // Full: send the batch now; this verdict moves to the head of the next one.
        if (auto st = m_impl->send_verdicts(); !st.ok() && !m_impl->deferred)
            m_impl->deferred = Error{st.error()};
    }
}

Status NfQueue::Impl::send_verdicts() {
    mnl_nlmsg_batch* b = verdicts.get();
    Status st;
    // Many verdict messages in one sendmsg: the kernel walks them all (no ACKs asked).
    if (!mnl_nlmsg_batch_is_empty(b) && sock.send(mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0)
        st = detail::sys_error("nfqueue " + std::to_string(num) + ": send verdicts");
    mnl_nlmsg_batch_reset(b);
    return st;
}

Status NfQueue::flush() {
    Status st = m_impl->send_verdicts();
    if (m_impl->deferred) {
        st = std::move(*m_impl->deferred);
        m_impl->deferred.reset();
    }
    return st;
}

Result<NfQueue::Stats> NfQueue::stats() const {
    std::FILE* f = std::fopen("/proc/net/netfilter/nfnetlink_queue", "re");
    if (!f)
        return detail::sys_error("nfqueue: /proc/net/netfilter/nfnetlink_queue");
    // queue_num peer_portid queue_total copy_mode copy_range queue_dropped user_dropped id_sequence 1
    unsigned q, portid, total, mode, range;
    unsigned long long dropped, user_dropped, id_seq;
    int one;
    std::optional<Stats> found;
    while (std::fscanf(f, "%u %u %u %u %u %llu %llu %llu %d", &q, &portid, &total, &mode, &range, &dropped,
                       &user_dropped, &id_seq, &one) == 9) {
        if (q == m_impl->num)
            found = Stats{dropped, user_dropped, id_seq};
    }
    std::fclose(f);
    if (!found)
        return Error{"nfqueue " + std::to_string(m_impl->num) + ": not in /proc/net/netfilter/nfnetlink_queue"};
    return *found;
}

} // namespace conenat::io
