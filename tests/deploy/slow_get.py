#!/usr/bin/python3
"""A slow HTTP client: GET PATH from HOST:PORT reading CHUNK bytes every
PAUSE seconds (a small receive buffer keeps the server writing), then print
"STATUS CONTENT_LENGTH BODY_BYTES SECONDS". Used to keep a request in flight
across a SIGTERM.

Usage: slow_get.py HOST PORT PATH CHUNK PAUSE
"""
import socket
import sys
import time

host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
chunk, pause = int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.settimeout(30)
s.connect((host, port))
s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
buf = bytearray()
t0 = time.time()
while time.time() - t0 < 60:
    d = s.recv(chunk)
    if not d:
        break
    buf += d
    time.sleep(pause)
head, _, body = bytes(buf).partition(b"\r\n\r\n")
parts = head.split(b" ", 2)
status = parts[1].decode() if len(parts) > 1 else "000"
n = -1
for line in head.split(b"\r\n")[1:]:
    k, _, v = line.partition(b":")
    if k.strip().lower() == b"content-length":
        n = int(v)
print(status, n, len(body), f"{time.time() - t0:.2f}")
