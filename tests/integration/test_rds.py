#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""RDS RadioText sinks against stand-in encoders while stories play:
- a FIFO read the way PiFmRds/MiniRDS read their control pipe gets "RT ..."
  lines (captions policy) in the RDS character set, at most 64 characters,
  one per dwell at the dwell rate, and "RTP" tag lines;
- a TCP "encoder" speaking UECP gets frames whose CRC and stuffing check
  out (decoded here from the bytes, independently of the daemon's code),
  RT elements alternating the title and "Next: ..." with the A/B flag
  toggling on each new text, and RT+ ODA frames tagging the title;
- a UDP line-protocol encoder gets the config's template filled in;
- a reload (SIGHUP) with the same sinks, while a story is on air, keeps
  one connection to the encoder and the A/B flag and RT+ item toggle go
  on where they were;
- a FIFO nobody reads, a TCP target that refuses connections: one clear
  log line each, the story airs with every cue on time, and once a reader
  and an encoder show up they get RadioText (reconnect with backoff)."""
import binascii
import os
import socket
import threading
import time

import nextuptest as nt

DWELL_MS = 1000


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FifoReader(threading.Thread):
    """Reads lines from a FIFO as an encoder does, timestamping each."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.lines, self.stop = path, [], False

    def run(self):
        with open(self.path, "rb", buffering=0) as f:   # blocks until the daemon opens it
            buf = b""
            while not self.stop:
                chunk = f.read(4096)
                if not chunk:           # the writer closed; an encoder reopens
                    time.sleep(0.02)
                    continue
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    self.lines.append((time.monotonic(), line))


def uecp_frames(data):
    """Splits a byte stream into UECP frames, unstuffs them and checks the
    CRC (CRC-CCITT as binascii.crc_hqx, init 0xFFFF, inverted)."""
    frames, i = [], 0
    while True:
        start = data.find(b"\xfe", i)
        if start < 0:
            return frames
        stop = data.find(b"\xff", start)
        if stop < 0:
            return frames
        raw, body, j = data[start + 1:stop], bytearray(), 0
        while j < len(raw):
            if raw[j] == 0xFD:
                body.append(0xFD + raw[j + 1])
                j += 2
            else:
                body.append(raw[j])
                j += 1
        crc = binascii.crc_hqx(bytes(body[:-2]), 0xFFFF) ^ 0xFFFF
        assert crc == body[-2] << 8 | body[-1], "bad CRC in frame %s" % raw.hex()
        assert body[3] == len(body) - 6, "bad message length"
        frames.append(bytes(body[4:-2]))
        i = stop + 1


class UecpEncoder(threading.Thread):
    """A TCP encoder that accepts one connection at a time and records
    (time, message) for every frame."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.msgs, self.connections, self.stop = [], 0, False
        self.lock = threading.Lock()

    def run(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            self.connections += 1
            self.serve(conn)
        self.sock.close()

    def serve(self, conn):
        """Reads CONN's UECP frames into msgs until it closes or stop."""
        conn.settimeout(0.2)
        buf = b""
        while not self.stop:
            try:
                chunk = conn.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                break
            buf += chunk
            cut = buf.rfind(b"\xff") + 1
            with self.lock:
                for m in uecp_frames(buf[:cut]):
                    self.msgs.append((time.monotonic(), m))
            buf = buf[cut:]
        conn.close()

    def rt(self):
        return [(t, m[4] & 1, m[5:5 + m[3] - 1]) for t, m in self.msgs if m[0] == 0x0A]


class ConcurrentEncoder(UecpEncoder):
    """A UECP encoder that takes any number of connections at once, so a
    second one shows (connections: total, open_max: at the same time)."""

    def __init__(self, port):
        super().__init__(port)
        self.open, self.open_max = 0, 0

    def run(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            with self.lock:
                self.connections += 1
                self.open += 1
                self.open_max = max(self.open_max, self.open)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()
        self.sock.close()

    def serve(self, conn):
        super().serve(conn)
        with self.lock:
            self.open -= 1


def rds(text):
    """The RDS-set bytes the daemon should send for plain ASCII TEXT."""
    return text.replace("$", "\xab").encode("latin-1")


class Rds(nt.NextupTestCase):
    def test_encoders(self):
        a, b = nt.fixture("market"), nt.fixture("library")
        d = self.daemon(start=False)
        fifo = os.path.join(d.tmp, "rds_ctl")
        os.mkfifo(fifo)
        tcp, udp = free_port(), free_port(socket.SOCK_DGRAM)
        enc = UecpEncoder(tcp)
        enc.start()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", udp))
        u.settimeout(0.1)
        d.write_config(extra_sinks=[
            '{ type = "rds"; dialect = "fifo"; path = %s; policy = "captions"; dwell_ms = %d; }'
            % (nt.conf_str(fifo), DWELL_MS),
            '{ type = "rds"; dialect = "uecp"; connect = "127.0.0.1:%d"; dwell_ms = %d; site_address = 1; }'
            % (tcp, DWELL_MS),
            '{ type = "rds"; dialect = "line"; udp = "127.0.0.1:%d"; template = "TEXT={text}|{ab}\\r\\n"; '
            'charset = "ascii"; dwell_ms = %d; }' % (udp, DWELL_MS),
        ])
        reader = FifoReader(fifo)
        reader.start()
        d.start()
        datagrams = []

        def recv_udp():
            while not stop_udp:
                try:
                    datagrams.append((time.monotonic(), u.recv(512)))
                except socket.timeout:
                    pass
        stop_udp = False
        ut = threading.Thread(target=recv_udp, daemon=True)
        ut.start()
        try:
            ia = d.add(a)["id"]
            ib = d.add(b)["id"]
            d.wait_on_air(ia, 10)
            nt.wait_for(lambda: d.status().get("on_air", {}) and d.status()["on_air"]["id"] == ib, 60,
                        "second story", d.describe)
            time.sleep(3 * DWELL_MS / 1000)
        finally:
            reader.stop = enc.stop = stop_udp = True
            ut.join()
            u.close()
        self.check_fifo(reader.lines, d, ia)
        self.check_uecp(enc, d)
        self.check_udp(datagrams)

    def test_reload_keeps_the_encoder_link(self):
        """SIGHUP with the same RDS sink while a story is on air: the new
        sink shares the old one's connection (never a second one), and
        the A/B flag and the RT+ item toggle go on across the switch."""
        import signal
        a, b = nt.fixture("market"), nt.fixture("weather")
        d = self.daemon(start=False)
        tcp = free_port()
        enc = ConcurrentEncoder(tcp)
        enc.start()
        d.write_config(extra_sinks=[
            '{ type = "rds"; dialect = "uecp"; connect = "127.0.0.1:%d"; dwell_ms = %d; }' % (tcp, DWELL_MS),
        ])
        d.start()
        try:
            nt.wait_for(lambda: enc.connections == 1, 10, "encoder connected", d.describe)
            ia = d.add(a)["id"]
            d.wait_on_air(ia, 10)
            nt.wait_for(lambda: enc.rt(), 10, "first RadioText", d.describe)
            d.signal(signal.SIGHUP)
            nt.wait_for(lambda: "Configuration reloaded" in d.stderr() or "Reload failed" in d.stderr(), 10,
                        "reload", d.describe)
            self.assertNotIn("Reload failed", d.stderr())
            time.sleep(1)
            self.assertEqual((enc.connections, enc.open_max), (1, 1), "a second connection after reload")
            ib = d.add(b)["id"]
            d.wait_on_air(ib, 60)
            title_b = rds(nt.SPECS["weather"]["title"])
            nt.wait_for(lambda: any(x == title_b for _, _, x in enc.rt()), 10, "second title", d.describe)
            time.sleep(DWELL_MS / 1000)
        finally:
            enc.stop = True
        self.assertEqual((enc.connections, enc.open_max), (1, 1), "the encoder saw a second connection")
        rt = enc.rt()
        for (t0, ab0, x0), (t1, ab1, x1) in zip(rt, rt[1:]):
            self.assertEqual(ab0 != ab1, x0 != x1, rt)
        # RT+ ITEM.TITLE of each story: the item toggle flips from one to the next
        plus = [m for _, m in enc.msgs if m[0] == 0x46 and ((0x38 & m[5] << 3) | m[6] >> 5) == 1]
        lens = {len(nt.SPECS[k]["title"]) - 1: k for k in ("market", "weather")}
        toggles = {}
        for m in plus:
            story = lens.get(0x3f & m[7] >> 1)
            if story:
                toggles.setdefault(story, set()).add(bool(m[5] & 0x10))
        self.assertEqual(set(toggles), {"market", "weather"}, [m.hex() for m in plus])
        self.assertEqual(len(toggles["market"]), 1)
        self.assertEqual(len(toggles["weather"]), 1)
        self.assertNotEqual(toggles["market"], toggles["weather"], "RT+ item toggle restarted at reload")
        self.assertStops(d)

    def check_fifo(self, lines, d, ia):
        rt = [(t, l[3:]) for t, l in lines if l.startswith(b"RT ")]
        self.assertGreater(len(rt), 4, lines)
        for t, text in rt:
            self.assertLessEqual(len(text), 64)
            self.assertNotIn(b"\n", text)
            self.assertFalse(any(c < 0x20 for c in text), text)
        # the title first (with RT+ tags), then caption chunks from the cues
        cues = [c for c in d.cues() if c["story_id"] == ia]
        words = set(w for c in cues for w in c["text"].replace("\n", " ").split())
        title = rds(nt.SPECS["market"]["title"])
        # before air "Next: <title>" (nothing on air yet), then the title
        texts = [text for _, text in rt]
        self.assertEqual(texts[0], b"Next: " + title)
        self.assertEqual(texts[1], title)
        chunk_words = [w.decode("latin-1") for text in texts[2:7] for w in text.split()]
        self.assertGreater(len(chunk_words), 10)
        self.assertTrue(all(w in words for w in chunk_words if w != ">>"), (chunk_words, words))
        self.assertTrue(any(l.startswith(b"RTP 1,0,") for _, l in lines), lines)
        # at the dwell rate: never faster; a backlog goes out one per dwell
        # (the timer), else a chunk goes when its cue is heard
        gaps = [b[0] - a[0] for a, b in zip(rt, rt[1:])]
        self.assertGreaterEqual(min(gaps), DWELL_MS / 1000 - 0.03, gaps)
        self.assertGreaterEqual(sum(1 for g in gaps if g < DWELL_MS / 1000 + 0.05), 3, gaps)

    def check_uecp(self, enc, d):
        self.assertGreaterEqual(enc.connections, 1)
        rt = enc.rt()
        self.assertGreater(len(rt), 3)
        texts = [text for _, _, text in rt]
        # now/next rotation: the first story's title and "Next: <second>"
        self.assertEqual(texts[0], b"Next: " + rds(nt.SPECS["market"]["title"]))   # before air
        self.assertEqual(texts[1], rds(nt.SPECS["market"]["title"]))
        self.assertIn(b"Next: " + rds(nt.SPECS["library"]["title"]), texts)
        # the A/B flag flips exactly when the text changes
        for (t0, ab0, x0), (t1, ab1, x1) in zip(rt, rt[1:]):
            self.assertEqual(ab0 != ab1, x0 != x1, rt)
            self.assertGreaterEqual(t1 - t0, DWELL_MS / 1000 - 0.03)
        # RT+: ODA data for AID 0x4BD7, title tag at 0 with the running bit
        plus = [m for _, m in enc.msgs if m[0] == 0x46]
        self.assertTrue(plus)
        for m in plus:
            self.assertEqual(m[1:4], b"\x08\x4b\xd7")
        title = [m for m in plus if ((0x38 & m[5] << 3) | m[6] >> 5) == 1]     # ITEM.TITLE
        self.assertTrue(title, [m.hex() for m in plus])
        m = title[0]
        self.assertTrue(m[5] & 0x08)                                          # running
        self.assertEqual((0x3e & m[6] << 1) | m[7] >> 7, 0)                   # start
        self.assertEqual(0x3f & m[7] >> 1, len(nt.SPECS["market"]["title"]) - 1)
        nxt = [m for m in plus if ((0x38 & m[5] << 3) | m[6] >> 5) == 34]     # PROGRAMME.NEXT
        self.assertTrue(nxt)

    def check_udp(self, datagrams):
        self.assertGreater(len(datagrams), 2)
        for _, dg in datagrams:
            self.assertTrue(dg.startswith(b"TEXT="), dg)
            self.assertTrue(dg.endswith(b"\r\n"))
            self.assertIn(dg[-4:-2], (b"|A", b"|B"))
            self.assertTrue(all(0x20 <= c < 0x7F for c in dg[:-2]), dg)

    def test_serial(self):
        """The line dialect on a serial line (a pty here): raw bytes, the
        template's CR LF untouched by any tty translation."""
        a = nt.fixture("weather")
        master, slave = os.openpty()
        os.set_blocking(master, False)
        d = self.daemon(start=False)
        d.write_config(extra_sinks=[
            '{ type = "rds"; dialect = "line"; device = %s; baud = 19200; dwell_ms = %d; }'
            % (nt.conf_str(os.ttyname(slave)), DWELL_MS)])
        d.start()
        got, tty = b"", os.ttyname(slave)
        try:
            ia = d.add(a)["id"]
            d.wait_on_air(ia, 10)

            def read():
                nonlocal got
                try:
                    got += os.read(master, 4096)
                except BlockingIOError:
                    pass
                return b"RT=" + rds(nt.SPECS["weather"]["title"]) + b"\r\n" in got
            nt.wait_for(read, 10, "RadioText on the serial line", d.describe)
        finally:
            os.close(master)
            os.close(slave)
        self.assertIn(b"RT=" + rds(nt.SPECS["weather"]["title"]) + b"\r\n", got)
        self.assertIn(b"RT=Next: " + rds(nt.SPECS["weather"]["title"]) + b"\r\n", got)   # before air
        self.assertIn("rds:'%s': connected" % tty, d.stderr())

    def test_unreachable(self):
        """No reader, connection refused: logged, the air goes on, and
        they recover once someone listens."""
        a = nt.fixture("market")
        d = self.daemon(start=False)
        fifo = os.path.join(d.tmp, "rds_ctl")
        os.mkfifo(fifo)
        tcp = free_port()
        d.write_config(extra_sinks=[
            '{ type = "rds"; dialect = "fifo"; path = %s; policy = "captions"; dwell_ms = %d; }'
            % (nt.conf_str(fifo), DWELL_MS),
            '{ type = "rds"; dialect = "uecp"; connect = "127.0.0.1:%d"; dwell_ms = %d; }' % (tcp, DWELL_MS),
        ])
        d.start()
        ia = d.add(a)["id"]
        d.wait_on_air(ia, 10)
        nt.wait_for(lambda: "no reader on the FIFO" in d.stderr(), 10, "FIFO log line", d.describe)
        err = d.stderr()
        self.assertIn("rds:'%s': no reader on the FIFO: " % fifo, err)
        self.assertIn("rds:'127.0.0.1:%d': cannot connect: Connection refused, retrying" % tcp, err)
        # one warning each, however many texts were dropped
        self.assertEqual(err.count("no reader on the FIFO"), 1, err)
        self.assertEqual(err.count("<4>rds:'127.0.0.1:%d': cannot connect" % tcp), 1, err)
        # now they appear: an encoder and a reader
        enc = UecpEncoder(tcp)
        enc.start()
        reader = FifoReader(fifo)
        reader.start()
        try:
            nt.wait_for(lambda: enc.rt(), 10, "UECP after reconnect", d.describe)
            nt.wait_for(lambda: reader.lines, 10, "FIFO lines once read", d.describe)
            nt.wait_for(lambda: any(e["event"] == "off_air" for e in d.jsonl_events()), 40, "off air",
                        d.describe)
        finally:
            reader.stop = enc.stop = True
        self.assertIn("rds:'127.0.0.1:%d': connected again" % tcp, d.stderr())
        # the air did not notice: every cue emitted, none late
        cues = d.cues_of(ia)
        self.assertGreater(len(cues), 3)
        self.assertEqual([c["cue_index"] for c in cues], list(range(len(cues))))
        self.assertOnTime(max(c["lateness_us"] for c in cues), 50000)


if __name__ == "__main__":
    nt.main()
