// NfQueue: one NFQUEUE queue over libmnl + libnetfilter_queue's nlmsg API.
#include "conenat/io/nfqueue.hpp"

#include "netlink.hpp"
#include "nfqueue_parse.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

namespace conenat::io {

static_assert(int(Hook::PreRouting) == NF_INET_PRE_ROUTING && int(Hook::LocalIn) == NF_INET_LOCAL_IN &&
              int(Hook::Forward) == NF_INET_FORWARD && int(Hook::LocalOut) == NF_INET_LOCAL_OUT &&
              int(Hook::PostRouting) == NF_INET_POST_ROUTING);

namespace {
// Verdicts go out as one sendmsg of many netlink messages: headers from a fixed buffer,
// rewritten payloads straight from the receive buffers (no copy), each followed by its padding.
constexpr std::size_t kHeaderBytes = 64 * 1024;   // verdict headers per sendmsg
constexpr std::size_t kMaxHeader = 128;           // bytes one verdict header may take
constexpr std::size_t kMaxPending = 320;          // verdicts per sendmsg: 3 iovecs each, under UIO_MAXIOV
constexpr std::size_t kSendLimit = 2u << 20;      // bytes per sendmsg (the socket's send buffer is twice that)
constexpr std::uint8_t kZeros[4] = {};

int to_nf(Verdict v) {
    return v == Verdict::Accept ? NF_ACCEPT : v == Verdict::Drop ? NF_DROP : NF_REPEAT;
}
} // namespace

struct NfQueue::Impl {
    Impl(detail::NetlinkSocket s, std::uint16_t n, std::size_t size) : sock(std::move(s)), num(n), buf_size(size) {
        headers.resize(kHeaderBytes);
        pending.reserve(kMaxPending);
        iov.reserve(3 * kMaxPending);
    }

    // One queued verdict: its header in `headers`, then (maybe) a payload the caller owns.
    struct Pending {
        std::uint32_t offset, len;
        const std::uint8_t* payload;
        std::uint32_t payload_len;
    };

    detail::NetlinkSocket sock;
    std::uint16_t num;
    std::size_t buf_size;
    std::vector<std::vector<std::uint8_t>> ring; // one receive buffer per packet of a receive()
    std::vector<mmsghdr> msgs;
    std::vector<iovec> rx_iov;
    std::vector<char> headers;
    std::size_t headers_used = 0, pending_bytes = 0;
    std::vector<Pending> pending;
    std::vector<iovec> iov;
    std::optional<Error> deferred; // a failed send of a full batch, reported by flush()
    std::uint32_t seq = 1;

    nlmsghdr* begin_verdict(std::size_t payload_len, std::uint16_t type = NFQNL_MSG_VERDICT);
    void add_verdict(nlmsghdr* nlh, std::span<const std::uint8_t> payload);
    Status send_verdicts();

    // Sends one config message and waits for its ACK.
    Status configure(const std::function<void(nlmsghdr*)>& fill, const char* what);
};

Status NfQueue::Impl::configure(const std::function<void(nlmsghdr*)>& fill, const char* what) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = nfq_nlmsg_put(buf.data(), NFQNL_MSG_CONFIG, num);
    nlh->nlmsg_flags |= NLM_F_ACK;
    nlh->nlmsg_seq = ++seq;
    fill(nlh);
    const std::string prefix = "nfqueue " + std::to_string(num) + ": " + what;
    return detail::netlink_request(sock.fd(), sock.portid(), nlh, prefix, buf);
}

Result<NfQueue> NfQueue::open(std::uint16_t num, std::uint32_t maxlen, std::uint32_t copy_range) {
    QueueOptions o;
    o.maxlen = maxlen;
    o.copy_range = copy_range;
    return open(num, o);
}

Result<NfQueue> NfQueue::open(std::uint16_t num, const QueueOptions& options) {
    auto sock = detail::NetlinkSocket::open();
    if (!sock)
        return Error{"nfqueue: " + sock.error()};
    const std::uint32_t maxlen = options.maxlen;
    const std::uint32_t range = std::min<std::uint32_t>(options.copy_range, 0xffff);
    // One packet message: up to the copy range plus its attributes.
    const std::size_t buf_size = range + static_cast<std::size_t>(MNL_SOCKET_BUFFER_SIZE) / 2;
    auto impl = std::make_unique<Impl>(std::move(sock.value()), num, buf_size);
    auto& s = impl->sock;
    // A full socket buffer makes the kernel drop the packet (counted as user_dropped): loss is
    // read from /proc, so the ENOBUFS report would only interrupt receive().
    CONENAT_TRY(s.set_flag(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1, "nfqueue: NETLINK_NO_ENOBUFS"));
    // The kernel answers a verdict for an id it no longer holds with an error: keep it small.
    CONENAT_TRY(s.set_flag(SOL_NETLINK, NETLINK_CAP_ACK, 1, "nfqueue: NETLINK_CAP_ACK"));
    const std::size_t rcvbuf = std::clamp<std::size_t>(std::size_t(maxlen) * (range + 1024), 1u << 20, 64u << 20);
    CONENAT_TRY(s.force_rcvbuf(rcvbuf));
    CONENAT_TRY(s.force_sndbuf(2 * kSendLimit));
    CONENAT_TRY(s.set_recv_timeout_ms(5000));

    CONENAT_TRY(impl->configure([](nlmsghdr* nlh) { nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND); }, "bind"));
    CONENAT_TRY(impl->configure(
        [&](nlmsghdr* nlh) {
            nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, static_cast<int>(range));
            nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen);
            // GSO: take GSO packets whole instead of segmenting (checksums may be partial).
            // FAIL_OPEN (off unless asked): a full queue accepts the packet untouched.
            const std::uint32_t flags =
                (options.gso ? NFQA_CFG_F_GSO : 0u) | (options.fail_open ? NFQA_CFG_F_FAIL_OPEN : 0u);
            mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
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

namespace detail {

bool parse_queued_packet(std::uint8_t* buf, std::size_t len, QueuedPacket& out) {
    std::size_t left = len;
    // The packet is rewritten in place (queue engine): the walk is const, the buffer is ours.
    for (auto* nlh = const_cast<nlmsghdr*>(fitting(buf, left)); nlh;
         nlh = const_cast<nlmsghdr*>(next_message(nlh, left))) {
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
        out.hook = hdr->hook <= NF_INET_POST_ROUTING ? Hook(hdr->hook) : Hook::Other;
        if (attr[NFQA_MARK])
            out.mark = ntohl(mnl_attr_get_u32(attr[NFQA_MARK]));
        if (attr[NFQA_PAYLOAD]) {
            auto* p = static_cast<std::uint8_t*>(mnl_attr_get_payload(attr[NFQA_PAYLOAD]));
            out.bytes = {p, mnl_attr_get_payload_len(attr[NFQA_PAYLOAD])};
        }
        out.length = attr[NFQA_CAP_LEN] ? ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]))
                                        : static_cast<std::uint32_t>(out.bytes.size());
        if (attr[NFQA_SKB_INFO]) {
            const std::uint32_t info = ntohl(mnl_attr_get_u32(attr[NFQA_SKB_INFO]));
            out.checksum_partial = info & NFQA_SKB_CSUMNOTREADY;
            out.gso = info & NFQA_SKB_GSO;
        }
        return true;
    }
    return false;
}

} // namespace detail

Result<std::size_t> NfQueue::receive(std::span<QueuedPacket> out) {
    Impl& m = *m_impl;
    if (m.ring.size() < out.size()) { // sized once, by the largest batch asked for
        m.ring.resize(out.size(), std::vector<std::uint8_t>(m.buf_size));
        m.msgs.resize(out.size());
        m.rx_iov.resize(out.size());
    }
    std::size_t n = 0;
    while (n < out.size()) {
        // recv() gives exactly one packet per datagram: batching is recvmmsg until EAGAIN.
        const std::size_t want = out.size() - n;
        for (std::size_t i = 0; i < want; ++i) {
            m.rx_iov[i] = {m.ring[n + i].data(), m.ring[n + i].size()};
            m.msgs[i] = {};
            m.msgs[i].msg_hdr.msg_iov = &m.rx_iov[i];
            m.msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int got = ::recvmmsg(m.sock.fd(), m.msgs.data(), static_cast<unsigned>(want), MSG_DONTWAIT, nullptr);
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR || errno == ENOBUFS)
                continue;
            if (n > 0)
                break; // deliver what we have; the error shows again on the next call
            return detail::sys_error("nfqueue " + std::to_string(m.num) + ": recvmmsg");
        }
        // Datagrams that are no packet (errors answering verdicts) leave a hole: close it by
        // swapping buffers, so that out[0..n) always points into ring[0..n).
        std::size_t kept = 0;
        for (int i = 0; i < got; ++i) {
            if (m.msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
                continue; // larger than any packet we asked for: not ours to parse
            if (kept != std::size_t(i))
                std::swap(m.ring[n + kept], m.ring[n + i]);
            // The kernel does not pad a packet message (nfqnl_build_packet_message sets nlmsg_len
            // after the zero-copied payload); the netlink walk wants the padding inside the
            // buffer, which always has room for it: add it.
            std::vector<std::uint8_t>& buf = m.ring[n + kept];
            std::size_t len = m.msgs[i].msg_len;
            if (const std::size_t aligned = MNL_ALIGN(len); aligned <= buf.size()) {
                std::fill(buf.begin() + std::ptrdiff_t(len), buf.begin() + std::ptrdiff_t(aligned), std::uint8_t(0));
                len = aligned;
            }
            if (detail::parse_queued_packet(buf.data(), len, out[n + kept]))
                ++kept;
        }
        n += kept;
        if (std::size_t(got) < want)
            break;
    }
    return n;
}

nlmsghdr* NfQueue::Impl::begin_verdict(std::size_t payload_len, std::uint16_t type) {
    const std::size_t bytes = kMaxHeader + payload_len + sizeof kZeros;
    if (pending.size() == kMaxPending || headers_used + kMaxHeader > headers.size() ||
        (!pending.empty() && pending_bytes + bytes > kSendLimit)) {
        // Full: send what we have now; this verdict heads the next sendmsg.
        if (auto st = send_verdicts(); !st.ok() && !deferred)
            deferred = Error{st.error()};
    }
    return nfq_nlmsg_put(headers.data() + headers_used, type, num);
}

void NfQueue::Impl::add_verdict(nlmsghdr* nlh, std::span<const std::uint8_t> payload) {
    std::uint32_t header_len = nlh->nlmsg_len;
    if (!payload.empty()) {
        // The NFQA_PAYLOAD attribute's header ends this message's bytes in `headers`; its data
        // and padding follow in their own iovecs.
        auto* attr = reinterpret_cast<nlattr*>(reinterpret_cast<char*>(nlh) + header_len);
        attr->nla_type = NFQA_PAYLOAD;
        attr->nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + payload.size());
        header_len += NLA_HDRLEN;
        nlh->nlmsg_len = header_len + static_cast<std::uint32_t>(MNL_ALIGN(payload.size()));
    }
    pending.push_back({static_cast<std::uint32_t>(headers_used), header_len, payload.data(),
                       static_cast<std::uint32_t>(payload.size())});
    headers_used += MNL_ALIGN(header_len);
    pending_bytes += nlh->nlmsg_len;
}

void NfQueue::verdict(std::uint32_t id, Verdict v, std::optional<std::uint32_t> mark) {
    nlmsghdr* nlh = m_impl->begin_verdict(0);
    nfq_nlmsg_verdict_put(nlh, static_cast<int>(id), to_nf(v));
    if (mark)
        nfq_nlmsg_verdict_put_mark(nlh, *mark);
    m_impl->add_verdict(nlh, {});
}

void NfQueue::verdict_batch(std::uint32_t max_id, Verdict v, std::optional<std::uint32_t> mark) {
    nlmsghdr* nlh = m_impl->begin_verdict(0, NFQNL_MSG_VERDICT_BATCH);
    nfq_nlmsg_verdict_put(nlh, static_cast<int>(max_id), to_nf(v));
    if (mark)
        nfq_nlmsg_verdict_put_mark(nlh, *mark);
    m_impl->add_verdict(nlh, {});
}

void NfQueue::verdict_with_payload(std::uint32_t id, Verdict v, std::span<const std::uint8_t> payload,
                                   std::optional<std::uint32_t> mark) {
    if (payload.empty() || payload.size() > 0xffff - NLA_HDRLEN) { // the kernel could not take it
        verdict(id, Verdict::Drop);
        return;
    }
    nlmsghdr* nlh = m_impl->begin_verdict(payload.size());
    nfq_nlmsg_verdict_put(nlh, static_cast<int>(id), to_nf(v));
    if (mark)
        nfq_nlmsg_verdict_put_mark(nlh, *mark);
    m_impl->add_verdict(nlh, payload);
}

Status NfQueue::Impl::send_verdicts() {
    if (pending.empty())
        return {};
    iov.clear();
    for (const Pending& p : pending) {
        iov.push_back({headers.data() + p.offset, p.len});
        if (p.payload_len > 0) {
            iov.push_back({const_cast<std::uint8_t*>(p.payload), p.payload_len});
            if (const std::size_t pad = MNL_ALIGN(p.payload_len) - p.payload_len)
                iov.push_back({const_cast<std::uint8_t*>(kZeros), pad});
        }
    }
    sockaddr_nl to{};
    to.nl_family = AF_NETLINK;
    msghdr msg{};
    msg.msg_name = &to;
    msg.msg_namelen = sizeof to;
    msg.msg_iov = iov.data();
    msg.msg_iovlen = iov.size();
    // Many verdict messages in one sendmsg: the kernel walks them all (no ACKs asked).
    Status st;
    if (::sendmsg(sock.fd(), &msg, 0) < 0)
        st = detail::sys_error("nfqueue " + std::to_string(num) + ": send verdicts");
    pending.clear();
    headers_used = 0;
    pending_bytes = 0;
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
