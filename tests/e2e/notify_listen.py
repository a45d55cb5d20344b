#!/usr/bin/env python3
"""Plays systemd's side of the notify protocol (sd_notify(3)) for tests/e2e/systemd*.sh: binds
an AF_UNIX datagram socket (a path, or "@name" for an abstract one) and appends every datagram
it receives to OUT as one record: "<CLOCK_MONOTONIC usec at receipt> <the message's lines joined
by '|'>". Ends after SECONDS (bounded) or on SIGTERM."""
import os
import signal
import socket
import sys
import time


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: notify_listen.py SOCKET OUT SECONDS")
    name, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if not name.startswith("@") and os.path.exists(name):
        os.unlink(name)  # left by an earlier listener of the same test
    s.bind("\0" + name[1:] if name.startswith("@") else name)
    ready = out + ".listening"
    open(ready, "w").close()
    end = time.monotonic() + seconds
    with open(out, "a", buffering=1) as f:
        while time.monotonic() < end:
            s.settimeout(max(0.05, end - time.monotonic()))
            try:
                data = s.recv(4096)
            except socket.timeout:
                continue
            now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            text = data.decode("utf-8", "replace").strip("\n").replace("\n", "|")
            f.write(f"{now} {text}\n")
    if not name.startswith("@"):
        os.unlink(name)


if __name__ == "__main__":
    main()
