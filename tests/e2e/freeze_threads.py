#!/usr/bin/env python3
"""Stops every thread of process PID but its main thread (PTRACE_SEIZE + PTRACE_INTERRUPT: a
stop of that thread alone, no signal), prints "frozen N", holds them until RELEASE_FILE exists
or SECONDS pass, then lets them go (PTRACE_DETACH; the kernel does the same if this dies).
For tests/e2e/systemd.sh: the engine's threads stuck, the main thread running on."""
import ctypes
import os
import sys
import time

PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
WALL = 0x40000000


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: freeze_threads.py PID SECONDS RELEASE_FILE")
    pid, seconds, release = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    frozen = []
    for tid in sorted(int(t) for t in os.listdir(f"/proc/{pid}/task")):
        if tid == pid:
            continue
        if libc.ptrace(PTRACE_SEIZE, tid, None, None) != 0:
            sys.exit(f"PTRACE_SEIZE {tid}: {os.strerror(ctypes.get_errno())}")
        libc.ptrace(PTRACE_INTERRUPT, tid, None, None)
        os.waitpid(tid, WALL)
        frozen.append(tid)
    print(f"frozen {len(frozen)}", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end and not os.path.exists(release):
        time.sleep(0.05)
    for tid in frozen:
        libc.ptrace(PTRACE_DETACH, tid, None, None)
    print("released", flush=True)


if __name__ == "__main__":
    main()
