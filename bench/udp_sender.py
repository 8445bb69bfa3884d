"""A UDP sender at a steady rate, in a process of its own (so it does not share the
receiver's GIL): the flood test and the OSC ingest benchmark both run it.

    python bench/udp_sender.py PORT RATE SECONDS HEX_DATAGRAM
prints "SENT ELAPSED" when done.
"""

import socket
import sys
import time

port, rate, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
msg = bytes.fromhex(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
dest = ("127.0.0.1", port)
sent = 0
start = time.perf_counter()
while True:
    now = time.perf_counter() - start
    if now >= seconds:
        break
    due = int(now * rate)  # scheduled from the start: no drift
    while sent < due:
        try:  # noqa: SIM105  (cheaper than contextlib.suppress at 300k sends a second)
            s.sendto(msg, dest)
        except OSError:
            pass  # a full send buffer is a loss too: the receiver never sees it
        sent += 1
    time.sleep(0.0002)
print(sent, time.perf_counter() - start, flush=True)
