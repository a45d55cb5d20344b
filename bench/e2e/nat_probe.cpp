// nat_probe: traffic generator and probe for bench/e2e/bench.sh (not part of the daemon).
// Python is too slow and too noisy for these numbers, so the three measurements that need
// per-packet control live here. Run inside the lab's namespaces with `ip netns exec`.
//
//   nat_probe echo ADDR PORT SECONDS
//       UDP echo server; exits after SECONDS.
//   nat_probe flood SRC DST SPORT0 NSPORTS DPORT0 NDPORTS COUNT SECONDS PAYLOAD [PPS]
//       Raw (IP_HDRINCL) UDP sender with sendmmsg, PAYLOAD bytes per datagram. Packet k goes
//       from SRC:SPORT0+(k mod NSPORTS) to DST:DPORT0+(k div NSPORTS mod NDPORTS): with
//       NSPORTS=NDPORTS=1 one 5-tuple (packets/s of an established flow); with COUNT <=
//       NSPORTS*NDPORTS every packet is a new 5-tuple (new flows/s; the first NSPORTS are also
//       new internal endpoints, i.e. new mappings). Stops after COUNT packets (0 = no limit) or
//       SECONDS. Prints "sent=N seconds=S send_errors=E". The receiver counts with an nft
//       counter: no receiving process to be the bottleneck.
//       PPS > 0 paces the sender (offered load): packet k is due at k/PPS seconds; the sender
//       sleeps (clock_nanosleep to the next due time, timer slack 1 us: it leaves the CPU to
//       the NAT) and then sends what is due, up to 64 per sendmmsg. A sender that falls more
//       than 20 ms behind (descheduled, or slower than PPS) forgets the older debt (no long
//       catch-up burst): "sent / seconds" is then below PPS, the most this sender could offer.
//   nat_probe latency SRC DST DPORT PROBES GAP_US SPORT_BASE
//       Per probe i: a new socket bound to SRC:SPORT_BASE+i (a source port this run never used,
//       so a new flow through the NAT; an ephemeral port could repeat one), one request and
//       its echo (fresh RTT), then a second request on the same socket (established RTT).
//       setup = fresh - established of the same probe: what creating the flow costs.
//       Prints percentiles in microseconds and the number of lost probes.
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "nat_probe: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

in_addr_t parse_ip(const char* s) {
  in_addr a{};
  if (inet_pton(AF_INET, s, &a) != 1) {
    std::fprintf(stderr, "nat_probe: bad IPv4 address %s\n", s);
    std::exit(2);
  }
  return a.s_addr;
}

sockaddr_in make_addr(in_addr_t ip, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = ip;
  sa.sin_port = htons(port);
  return sa;
}

void set_timeout(int fd, int optname, double secs) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(secs);
  tv.tv_usec = static_cast<suseconds_t>((secs - static_cast<double>(tv.tv_sec)) * 1e6);
  if (setsockopt(fd, SOL_SOCKET, optname, &tv, sizeof tv) < 0) die("setsockopt timeout");
}

int cmd_echo(char** argv) {
  const in_addr_t addr = parse_ip(argv[0]);
  const int port = std::atoi(argv[1]);
  const double secs = std::atof(argv[2]);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa = make_addr(addr, static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) die("bind");
  set_timeout(fd, SO_RCVTIMEO, 0.2);  // wake up to check the deadline
  const auto t0 = Clock::now();
  char buf[2048];
  while (seconds_since(t0) < secs) {
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < 0) continue;
    sendto(fd, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), fl);
  }
  close(fd);
  return 0;
}

uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

uint32_t sum16(const void* data, size_t len, uint32_t sum = 0) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(p[len - 1] << 8);
  return sum;
}

// A real UDP checksum: the daemon's rewrite path must see ordinary traffic, not checksum 0.
void fill_packet(uint8_t* pkt, in_addr_t src, in_addr_t dst, uint16_t sport, uint16_t dport,
                 size_t payload) {
  auto* ip = reinterpret_cast<iphdr*>(pkt);
  auto* udp = reinterpret_cast<udphdr*>(pkt + sizeof(iphdr));
  const size_t udp_len = sizeof(udphdr) + payload;
  std::memset(pkt, 0, sizeof(iphdr) + sizeof(udphdr));
  ip->version = 4;
  ip->ihl = 5;
  ip->ttl = 64;
  ip->protocol = IPPROTO_UDP;
  ip->tot_len = htons(static_cast<uint16_t>(sizeof(iphdr) + udp_len));
  ip->saddr = src;
  ip->daddr = dst;  // id and header checksum: filled by the kernel (IP_HDRINCL)
  udp->source = htons(sport);
  udp->dest = htons(dport);
  udp->len = htons(static_cast<uint16_t>(udp_len));
  uint8_t pseudo[12];
  std::memcpy(pseudo, &src, 4);
  std::memcpy(pseudo + 4, &dst, 4);
  pseudo[8] = 0;
  pseudo[9] = IPPROTO_UDP;
  pseudo[10] = static_cast<uint8_t>(udp_len >> 8);
  pseudo[11] = static_cast<uint8_t>(udp_len);
  uint16_t c = static_cast<uint16_t>(~fold(sum16(udp, udp_len, sum16(pseudo, sizeof pseudo))));
  udp->check = htons(c == 0 ? 0xffff : c);
}

int cmd_flood(char** argv) {
  const in_addr_t src = parse_ip(argv[0]);
  const in_addr_t dst = parse_ip(argv[1]);
  const long sport0 = std::atol(argv[2]);
  const long nsports = std::max(1L, std::atol(argv[3]));
  const long dport0 = std::atol(argv[4]);
  const long ndports = std::max(1L, std::atol(argv[5]));
  const long count = std::atol(argv[6]);
  const double secs = std::atof(argv[7]);
  const size_t payload = static_cast<size_t>(std::atoi(argv[8]));
  const double pps = argv[9] ? std::atof(argv[9]) : 0;  // argv ends with a null pointer
  if (sport0 < 1 || sport0 + nsports > 65536 || dport0 < 1 || dport0 + ndports > 65536 ||
      payload > 1400 || pps < 0) {
    std::fprintf(stderr, "nat_probe: ports must stay in 1..65535, payload <= 1400, PPS >= 0\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);  // IPPROTO_RAW implies IP_HDRINCL
  if (fd < 0) die("raw socket");
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);

  constexpr int kBatch = 64;
  const size_t len = sizeof(iphdr) + sizeof(udphdr) + payload;
  std::vector<uint8_t> bufs(kBatch * len, 0xab);
  std::vector<iovec> iov(kBatch);
  std::vector<mmsghdr> msgs(kBatch);
  sockaddr_in to = make_addr(dst, 0);
  for (int i = 0; i < kBatch; ++i) {
    iov[i] = {bufs.data() + i * len, len};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &to;
    msgs[i].msg_hdr.msg_namelen = sizeof to;
  }
  const bool one_flow = nsports == 1 && ndports == 1;
  auto fill = [&](int slot, long k) {
    fill_packet(bufs.data() + slot * len, src, dst, static_cast<uint16_t>(sport0 + k % nsports),
                static_cast<uint16_t>(dport0 + (k / nsports) % ndports), payload);
  };
  if (one_flow)  // the batch never changes: build it once
    for (int i = 0; i < kBatch; ++i) fill(i, 0);
  long sent = 0, errors = 0;
  if (pps > 0) prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // default slack (50 us) would skew pacing
  timespec ts0{};
  clock_gettime(CLOCK_MONOTONIC, &ts0);
  const auto mono = [&] {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<double>(t.tv_sec - ts0.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec - ts0.tv_nsec);
  };
  double next = 0;  // paced: when the next packet is due (seconds since t0)
  // Debt a paced sender may catch up on: a few scheduler slices of a busy machine, no more.
  constexpr double kMaxLag = 20e-3;
  const auto t0 = Clock::now();
  while (seconds_since(t0) < secs && (count <= 0 || sent < count)) {
    int n = count > 0 ? static_cast<int>(std::min<long>(kBatch, count - sent)) : kBatch;
    if (pps > 0) {
      double now = mono();
      if (now < next) {
        const double at = next;
        timespec due{};
        due.tv_sec = ts0.tv_sec + static_cast<time_t>(at);
        due.tv_nsec = ts0.tv_nsec + static_cast<long>((at - static_cast<double>(static_cast<time_t>(at))) * 1e9);
        if (due.tv_nsec >= 1000000000L) {
          due.tv_sec += 1;
          due.tv_nsec -= 1000000000L;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, nullptr);
        now = mono();
      }
      if (now - next > kMaxLag) next = now - kMaxLag;  // saturated: no long catch-up burst
      const long due_pkts = 1 + static_cast<long>((now - next) * pps);
      n = static_cast<int>(std::min<long>(n, due_pkts));
    }
    if (!one_flow)
      for (int i = 0; i < n; ++i) fill(i, sent + i);
    int r = sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), 0);
    if (r < 0) {
      if (errno != ENOBUFS && errno != EAGAIN) die("sendmmsg");
      ++errors;
      continue;
    }
    sent += r;
    if (pps > 0) next += r / pps;
  }
  std::printf("sent=%ld seconds=%.6f send_errors=%ld\n", sent, seconds_since(t0), errors);
  close(fd);
  return 0;
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// One request and its echo on a connected socket; RTT in microseconds, < 0 if lost.
double rtt_us(int fd, uint32_t seq) {
  uint32_t got = 0;
  const auto t = Clock::now();
  if (send(fd, &seq, sizeof seq, 0) != sizeof seq) return -1;
  for (;;) {  // skip a late echo of an earlier request
    ssize_t n = recv(fd, &got, sizeof got, 0);
    if (n < 0) return -1;
    if (n == sizeof got && got == seq) break;
  }
  return std::chrono::duration<double, std::micro>(Clock::now() - t).count();
}

int cmd_latency(char** argv) {
  const in_addr_t src = parse_ip(argv[0]);
  const in_addr_t dst = parse_ip(argv[1]);
  const int dport = std::atoi(argv[2]);
  const int probes = std::atoi(argv[3]);
  const int gap_us = std::atoi(argv[4]);
  const int sport_base = std::atoi(argv[5]);
  if (sport_base < 1 || sport_base + probes > 65535) {
    std::fprintf(stderr, "nat_probe: SPORT_BASE + PROBES must stay below 65536\n");
    return 2;
  }
  std::vector<double> fresh, est, setup;
  int lost = 0;
  uint32_t seq = 1;
  sockaddr_in to = make_addr(dst, static_cast<uint16_t>(dport));
  for (int i = 0; i < probes; ++i) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in from = make_addr(src, static_cast<uint16_t>(sport_base + i));
    if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) < 0) die("bind");
    if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) die("connect");
    set_timeout(fd, SO_RCVTIMEO, 0.2);
    const double f = rtt_us(fd, seq++);
    const double e = f < 0 ? -1 : rtt_us(fd, seq++);
    close(fd);
    if (f < 0 || e < 0) {
      ++lost;
    } else {
      fresh.push_back(f);
      est.push_back(e);
      setup.push_back(f - e);
    }
    if (gap_us > 0) usleep(static_cast<useconds_t>(gap_us));
  }
  std::printf("probes=%d lost=%d fresh_p50=%.1f fresh_p99=%.1f est_p50=%.1f est_p99=%.1f "
              "setup_p50=%.1f setup_p99=%.1f\n",
              probes, lost, pct(fresh, 50), pct(fresh, 99), pct(est, 50), pct(est, 99),
              pct(setup, 50), pct(setup, 99));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "echo" && argc == 5) return cmd_echo(argv + 2);
  if (cmd == "flood" && (argc == 11 || argc == 12)) return cmd_flood(argv + 2);
  if (cmd == "latency" && argc == 8) return cmd_latency(argv + 2);
  std::fprintf(stderr,
               "usage: nat_probe echo ADDR PORT SECONDS\n"
               "       nat_probe flood SRC DST SPORT0 NSPORTS DPORT0 NDPORTS COUNT SECONDS PAYLOAD [PPS]\n"
               "       nat_probe latency SRC DST DPORT PROBES GAP_US SPORT_BASE\n");
  return 2;
}
