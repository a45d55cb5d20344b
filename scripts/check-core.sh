#!/usr/bin/env bash
# Proves the translation core is pure (see ARCHITECTURE.md): it includes no system, kernel,
# netfilter or Boost header, and its object code calls no syscall wrapper, clock or entropy
# source, and nothing from libmnl / libnetfilter_* / libnftnl / Boost.
set -euo pipefail
lib=${1:?usage: check-core.sh build/libconenat_core.a}
fail=0

if grep -rnE '#include *<(sys|linux|arpa|netinet|net|libmnl|libnetfilter_[a-z_]+|libnftnl|boost)/|#include *<(unistd|fcntl|poll|time|ctime|chrono|random|thread|mutex|iostream|fstream)(\.h)?>' \
    include/conenat/core src/core; then
  echo "check-core: the core includes a forbidden header (above)" >&2
  fail=1
fi

forbidden='^(socket|bind|connect|send|sendto|sendmsg|sendmmsg|recv|recvfrom|recvmsg|recvmmsg|read|write|readv|writev|open|open64|openat|close|ioctl|poll|epoll_.*|select|mmap|syscall|clock_gettime|gettimeofday|time|getrandom|getentropy|rand|random|srand|fork|exec.*|pthread_.*|mnl_.*|nfq_.*|nfct_.*|nfnl_.*|nftnl_.*|_ZN5boost.*|printf|puts|fprintf|fwrite|abort)$'
bad=$(nm -u --format=posix "$lib" | awk '{print $1}' | sed 's/@.*//' | grep -E "$forbidden" | sort -u || true)
if [ -n "$bad" ]; then
  echo "check-core: the core calls outside its purity contract:" >&2
  echo "$bad" | sed 's/^/  /' >&2
  fail=1
fi
# The layers above stand on it, not beside it: the engines reach the system only through io
# (no system header, no raw syscall), and nothing below the daemon includes the daemon.
if grep -rnE '#include *<(sys|linux|arpa|netinet|net|libmnl|libnetfilter_[a-z_]+|libnftnl)/|#include *<(unistd|fcntl|poll)\.h>|[^a-z_.>]::(poll|read|write|send|sendmsg|recv|recvmsg|ioctl|socket|close)\(' \
    include/conenat/engine src/engine; then
  echo "check-core: an engine calls the system itself (above): that belongs in src/io" >&2
  fail=1
fi
if grep -rn '#include *"conenat/daemon/' include/conenat/{core,util,io,engine} src/{core,util,io,engine}; then
  echo "check-core: a layer below the daemon includes it (above)" >&2
  fail=1
fi
[ $fail -eq 0 ] && echo "check-core: pure (no system headers, no syscalls, no clock, no netfilter/Boost symbols); engines call the system only through io"
exit $fail
