#!/usr/bin/env python3
"""Tiny RocketMQ remoting probe for scripts/rig.sh (Python 3 standard library only).

Usage:
  probe.py tcp ADDR                        exit 0 if ADDR (host:port) accepts a TCP connection
  probe.py cluster NAMESRV_ADDR [EXPECT..] GetBrokerClusterInfo (code 106); prints the body.
                                           With EXPECT strings, exit 0 only if every one of
                                           them occurs in the body
  probe.py route NAMESRV_ADDR TOPIC        GetRouteinfoByTopic (code 105); prints the body
  probe.py raw ADDR CODE [k=v ...]         any request code with string extFields k=v
  probe.py free-block SPAN [LO HI]         print a port P such that P .. P+SPAN-1 can all be
                                           bound on 127.0.0.1 (random pick in [LO, HI),
                                           default 20000..32000, below Linux's ephemeral range)

Exit status: 0 success; 1 answered with a non-zero response code, or an EXPECT string
is missing, or no free block found; 2 connection or protocol error.

Requests use the JSON header exactly as the Java client sends it: RocketMQ-Rust 1.0.0
silently drops the connection when "serializeTypeCurrentRPC" is missing or an
extFields value is not a string.
"""
import json
import random
import socket
import struct
import sys

TIMEOUT = 3.0


def split_addr(addr):
    host, port = addr.rsplit(":", 1)
    return host, int(port)


def request(addr, code, ext=None, body=b""):
    header = json.dumps({
        "code": code,
        "language": "JAVA",
        "version": 453,
        "opaque": 1,
        "flag": 0,
        "remark": None,
        "extFields": {str(k): str(v) for k, v in (ext or {}).items()},
        "serializeTypeCurrentRPC": "JSON",
    }).encode()
    frame = struct.pack(">I", 4 + len(header) + len(body))
    frame += struct.pack(">I", len(header) & 0xFFFFFF)  # high byte 0 = JSON header
    frame += header + body
    with socket.create_connection(split_addr(addr), timeout=TIMEOUT) as s:
        s.settimeout(TIMEOUT)
        s.sendall(frame)

        def recv_exact(n):
            buf = b""
            while len(buf) < n:
                chunk = s.recv(n - len(buf))
                if not chunk:
                    raise ConnectionError("connection closed by peer")
                buf += chunk
            return buf

        total = struct.unpack(">I", recv_exact(4))[0]
        rest = recv_exact(total)
    ori = struct.unpack(">I", rest[:4])[0]
    if (ori >> 24) & 0xFF != 0:
        raise ValueError("response header is not JSON (serialize type %d)" % ((ori >> 24) & 0xFF))
    hlen = ori & 0xFFFFFF
    return json.loads(rest[4:4 + hlen].decode()), rest[4 + hlen:]


def can_bind(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # the servers set SO_REUSEADDR too, so TIME_WAIT leftovers do not count as busy
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(1)
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_block(span, lo, hi):
    candidates = list(range(lo, hi - span, 10))
    random.shuffle(candidates)
    for base in candidates[:200]:
        if all(can_bind(p) for p in range(base, base + span)):
            return base
    return None


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    cmd, arg = argv[1], argv[2]
    if cmd == "free-block":
        lo = int(argv[3]) if len(argv) > 3 else 20000
        hi = int(argv[4]) if len(argv) > 4 else 32000
        base = free_block(int(arg), lo, hi)
        if base is None:
            sys.stderr.write("probe: no block of %s free ports in %d..%d\n" % (arg, lo, hi))
            return 1
        print(base)
        return 0
    try:
        if cmd == "tcp":
            socket.create_connection(split_addr(arg), timeout=TIMEOUT).close()
            return 0
        expect = []
        if cmd == "cluster":
            hdr, body = request(arg, 106)
            expect = argv[3:]
        elif cmd == "route":
            hdr, body = request(arg, 105, {"topic": argv[3]})
        elif cmd == "raw":
            hdr, body = request(arg, int(argv[3]), dict(kv.split("=", 1) for kv in argv[4:]))
        else:
            sys.stderr.write(__doc__)
            return 2
    except (OSError, ValueError, IndexError) as e:
        sys.stderr.write("probe: %s: %s\n" % (arg, e))
        return 2
    if hdr.get("code") != 0:
        sys.stdout.write("code=%s remark=%s\n" % (hdr.get("code"), hdr.get("remark")))
        return 1
    text = body.decode("utf-8", "replace")
    sys.stdout.write(text + ("\n" if text and not text.endswith("\n") else ""))
    return 0 if all(e in text for e in expect) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
