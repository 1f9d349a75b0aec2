# SPDX-License-Identifier: GPL-3.0-or-later
"""feedclient: small clients of nextupd's network caption feeds, for the
tests and bench/feeds: an SSE reader over a raw socket (so that the test
sees the bytes and controls Last-Event-ID), a TCP JSON-lines reader, a
plain GET, and a Prometheus text-format parser."""
import json
import re
import socket
import threading
import time


def http_get(port, path, timeout=5, headers=()):
    """(status, headers dict (lower-case names), body bytes) of GET PATH."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        req = "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" % path
        req += "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
        s.sendall(req.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if hdrs.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return status, hdrs, body


def dechunk(body):
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        n = int(size.split(b";")[0], 16)
        if n == 0:
            break
        out += rest[:n]
        body = rest[n + 2:]
    return out


class SSEParser:
    """Feeds bytes of a chunked text/event-stream response; yields events
    as dicts {id, event, data (parsed JSON), t (monotonic receipt)}."""

    def __init__(self):
        self.raw = b""
        self.head_done = False
        self.chunked = False
        self.body = b""
        self.text = ""
        self.status = None

    def feed(self, data, now):
        self.raw += data
        if not self.head_done:
            head, sep, rest = self.raw.partition(b"\r\n\r\n")
            if not sep:
                return []
            self.head_done = True
            first = head.split(b"\r\n")[0].split()
            self.status = int(first[1])
            self.chunked = b"chunked" in head.lower()
            self.raw = rest
        if self.chunked:
            while True:
                size, sep, rest = self.raw.partition(b"\r\n")
                if not sep:
                    break
                n = int(size.split(b";")[0], 16)
                if len(rest) < n + 2:
                    break
                self.body += rest[:n]
                self.raw = rest[n + 2:]
        else:
            self.body += self.raw
            self.raw = b""
        self.text += self.body.decode("utf-8")   # frames end on ASCII boundaries
        self.body = b""
        events = []
        while "\n\n" in self.text:
            block, self.text = self.text.split("\n\n", 1)
            ev = {"t": now}
            for line in block.split("\n"):
                if line.startswith(":"):
                    continue
                k, _, v = line.partition(": ")
                ev[k] = v
            if "data" in ev:
                ev["data"] = json.loads(ev["data"])
                events.append(ev)
        return events


class SSEClient:
    """A thread reading /events into .events."""

    def __init__(self, port, last_id=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        req = "GET /events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n"
        if last_id is not None:
            req += "Last-Event-ID: %s\r\n" % last_id
        self.sock.sendall((req + "\r\n").encode())
        self.parser = SSEParser()
        self.events = []
        self.closed = False
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            evs = self.parser.feed(data, time.monotonic())
            with self.lock:
                self.events += evs
        self.closed = True

    def of(self, name):
        with self.lock:
            return [e for e in self.events if e.get("event") == name]

    def close(self):
        self.closed = True
        self.thread.join(2)
        self.sock.close()


class TCPClient:
    """A thread reading JSON lines from a tcp caption feed into .events."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.events = []
        self.buf = b""
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            now, wall = time.monotonic(), time.time()
            self.buf += data
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                o = json.loads(line)
                o["_t"], o["_wall"] = now, wall
                self.events.append(o)
        self.closed = True

    def of(self, name):
        return [e for e in list(self.events) if e.get("event") == name]

    def close(self):
        self.closed = True
        self.thread.join(2)
        self.sock.close()


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_prometheus(text):
    """Prometheus text format 0.0.4 -> {"types": {family: type}, "help": {...},
    "samples": [(name, {labels}, float)]}. Raises ValueError on any line
    that is not a comment, HELP/TYPE, blank or a valid sample, on a
    sample before its family's TYPE, and on duplicate series."""
    types, helps, samples, seen = {}, {}, [], set()
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                if parts[1] == "TYPE":
                    if parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                        raise ValueError("line %d: bad type %r" % (n, parts[3]))
                    if parts[2] in types:
                        raise ValueError("line %d: second TYPE for %s" % (n, parts[2]))
                    types[parts[2]] = parts[3]
                else:
                    helps[parts[2]] = parts[3] if len(parts) > 3 else ""
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError("line %d: not a sample: %r" % (n, line))
        name, labeltext, value = m.group(1), m.group(3) or "", m.group(4)
        labels, pos = {}, 0
        while pos < len(labeltext):
            lm = _LABEL.match(labeltext, pos)
            if not lm:
                raise ValueError("line %d: bad labels %r" % (n, labeltext))
            labels[lm.group(1)] = lm.group(2)
            pos = lm.end()
        v = float(value)    # accepts +Inf, NaN
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "histogram":
                family = name[:-len(suffix)]
        if family not in types:
            raise ValueError("line %d: %s has no TYPE line before it" % (n, name))
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            raise ValueError("line %d: duplicate series %r" % (n, key))
        seen.add(key)
        samples.append((name, labels, v))
    return {"types": types, "help": helps, "samples": samples}


def sample(metrics, name, **labels):
    for n, l, v in metrics["samples"]:
        if n == name and all(l.get(k) == v2 for k, v2 in labels.items()):
            return v
    raise KeyError("%s%r not in metrics" % (name, labels))
