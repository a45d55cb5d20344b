// nfq_passthrough: the NFQUEUE ceiling of bench/e2e/bench.sh (not part of the daemon).
// Accepts every packet of one queue, unchanged, through the project's own adapter
// (conenat::io::NfQueue) and the queue engine's loop shape: poll, one receive() of up to 64
// packets (recvmmsg), a verdict per packet, one flush() (a single sendmsg of the batch). No
// payload goes back and only 128 bytes per packet come up, so this is what "every packet
// through userspace, verdict accept" costs at best; the queue engine adds translation and the
// rewritten bytes on top.
//
//   nfq_passthrough QUEUE [MAXLEN]
//       Binds QUEUE (GSO on, fail-open off, MAXLEN packets in the kernel, default 4096 as the
//       daemon's), prints "ready queue=N" once bound, runs until SIGTERM/SIGINT, then prints
//       "packets=N batches=B queue_dropped=D user_dropped=U" and exits 0.
#include "conenat/io/nfqueue.hpp"

#include <poll.h>
#include <signal.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

volatile sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: nfq_passthrough QUEUE [MAXLEN]\n");
        return 2;
    }
    const long num = std::strtol(argv[1], nullptr, 10);
    const long maxlen = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 4096;
    if (num < 0 || num > 65535 || maxlen < 1 || maxlen > (1L << 20)) {
        std::fprintf(stderr, "nfq_passthrough: QUEUE must be 0..65535, MAXLEN 1..1048576\n");
        return 2;
    }
    // No SA_RESTART: a signal ends poll() with EINTR and the loop sees the flag.
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);

    conenat::io::QueueOptions o;
    o.maxlen = static_cast<std::uint32_t>(maxlen);
    o.copy_range = 128; // headers are enough: the payload never goes back
    o.gso = true;       // as the queue engine's main queues: GSO packets whole
    o.fail_open = false;
    auto q = conenat::io::NfQueue::open(static_cast<std::uint16_t>(num), o);
    if (!q) {
        std::fprintf(stderr, "nfq_passthrough: %s\n", q.error().c_str());
        return 1;
    }
    std::printf("ready queue=%ld\n", num);
    std::fflush(stdout);

    constexpr std::size_t kBatch = 64; // the queue engine's batch
    std::array<conenat::io::QueuedPacket, kBatch> pkts;
    unsigned long long packets = 0, batches = 0, errors = 0;
    pollfd pfd{q->fd(), POLLIN, 0};
    while (!g_stop) {
        const int r = ::poll(&pfd, 1, 100);
        if (r < 0 && errno != EINTR) {
            std::perror("nfq_passthrough: poll");
            return 1;
        }
        if (r <= 0 || !(pfd.revents & POLLIN))
            continue;
        auto got = q->receive(pkts);
        if (!got) {
            if (++errors <= 3)
                std::fprintf(stderr, "nfq_passthrough: %s\n", got.error().c_str());
            continue;
        }
        for (std::size_t i = 0; i < *got; ++i)
            q->verdict(pkts[i].id, conenat::io::Verdict::Accept);
        if (*got) {
            packets += *got;
            ++batches;
            if (auto st = q->flush(); !st && ++errors <= 3)
                std::fprintf(stderr, "nfq_passthrough: %s\n", st.error().c_str());
        }
    }
    conenat::io::NfQueue::Stats s{};
    if (auto st = q->stats())
        s = *st;
    std::printf("packets=%llu batches=%llu queue_dropped=%llu user_dropped=%llu errors=%llu\n", packets, batches,
                static_cast<unsigned long long>(s.queue_dropped), static_cast<unsigned long long>(s.user_dropped),
                errors);
    return 0;
}
