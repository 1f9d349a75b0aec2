# SPDX-License-Identifier: GPL-3.0-or-later
"""nextuptest: shared harness of the integration tests.

Runs the real programs from $NEXTUP_BUILD_DIR against stories synthesized by
scripts/make-fixture (cached in tests/fixtures/generated/, keyed by a hash of
the spec and the generator).  A Daemon owns a temp dir with its config,
control socket, state dir and caption sinks; it starts nextupd with a
NOTIFY_SOCKET the harness reads (and a watchdog), talks to it over the raw
socket or through nextupctl, reads the jsonl sink, and stops it with SIGTERM
expecting exit 0.  Waits are polls with timeouts, never sleeps taken as
results.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import wave

SOURCE_DIR = os.path.abspath(os.environ.get(
    "NEXTUP_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
BUILD_DIR = os.path.abspath(os.environ.get("NEXTUP_BUILD_DIR", os.path.join(SOURCE_DIR, "build")))
MAKE_FIXTURE = os.path.join(SOURCE_DIR, "scripts", "make-fixture")
CACHE_DIR = os.path.join(SOURCE_DIR, "tests", "fixtures", "generated")
SHARED_STORIES = os.path.join(SOURCE_DIR, "..", "shared", "stories")
KEEP = bool(os.environ.get("NEXTUP_KEEP"))      # keep temp dirs for post-mortems


def _sanitizer():
    """The build's NEXTUP_SANITIZE: "OFF", "ON"/"address" or "thread"."""
    try:
        with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("NEXTUP_SANITIZE:"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return "OFF"


SANITIZER = _sanitizer()
# Bounds on cue lateness are the normal build's, loose enough for a loaded
# machine (50 ms where a cue timer that waits on anything shows hundreds;
# the figures themselves are the benches' job). The ASan build runs about
# three times slower; under TSan (5-15x, on a shared 2-core machine) a late
# cue says nothing about the daemon, so assertOnTime leaves them to the
# other two builds (order, counts and every other check still run).
TIMING_SCALE = {"OFF": 1, "": 1, "thread": None}.get(SANITIZER, 3)

CHROME = ["Play Live Radio", "Next Up:", "Available On Air Stations"]
TRAILER = "Transcript provided by NPR"
WATCHDOG_USEC = 500000


def binary(name):
    return os.path.join(BUILD_DIR, name)


def slow_fsync_env(directory, ms=300):
    """The environment for Daemon.start(env=...) that makes a slow disk of
    DIRECTORY: every fsync of a file under it sleeps MS ms first (the
    LD_PRELOAD shim tests/shim/slowfsync.c, which says so on stderr)."""
    return {"LD_PRELOAD": os.path.join(BUILD_DIR, "slowfsync.so"),
            "SLOWFSYNC_DIR": os.path.realpath(directory), "SLOWFSYNC_MS": str(ms),
            # the shim comes before the ASan runtime in the load order
            "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}


# ------------------------------------------------------------------ fixtures
# Short stories (5-15 s).  Texts are distinct across stories so a cue tells
# which story it came from; "Dr." and "U.S." exercise the segmenter.
SPECS = {
    "pier": {
        "title": "Harbor Town Rebuilds Its Old Pier", "seed": 1,
        "voices": {"ROSA DIAZ": "en-us+f3:170", "MARTIN": "en-us+m3:172"}, "host": "MARTIN",
        "paragraphs": [
            {"text": "Workers in Harbor Town began rebuilding the old pier this week. The job should take a year."},
            {"note": "(SOUNDBITE OF WAVES)"},
            {"speaker": "ROSA DIAZ", "text": "Dr. Ellen Park of the U.S. Coast Guard says the wood was rotten. Nobody was hurt."},
            {"speaker": "MARTIN", "text": "Fishing boats will dock nearby until then."},
        ],
        "bio": "Rosa Diaz covers the coast for member station KHBR.",
    },
    "library": {
        "title": "Library Extends Weekend Hours", "seed": 2,
        "voices": {"KIM": "en-us+m7:170"},
        "paragraphs": [
            {"speaker": "KIM", "text": "The city library will stay open late on Saturdays. Readers asked for it in a survey."},
            {"text": "Staff start the new schedule next month."},
        ],
        "bio": "Kim Lowe reports from City Hall.",
    },
    "weather": {
        "title": "Rain Returns To The Valley", "seed": 3,
        "paragraphs": [{"text": "Forecasters expect steady rain across the valley tonight. Drivers should slow down."}],
        "bio": "Lee Grant is a meteorologist.",
    },
    "market": {
        "title": "Farmers Market Moves Downtown", "seed": 4,
        "voices": {"JONES": "en-us+m1:170", "PAT LEVY": "en-us+f2:168"}, "host": "JONES",
        "paragraphs": [
            {"text": "The weekly farmers market is moving to the square in front of the courthouse. Vendors voted for the change in March."},
            {"speaker": "PAT LEVY", "text": "We get twice the foot traffic there. My peaches sold out by ten!"},
            {"text": "I think the move will help small growers most."},
            {"speaker": "JONES", "text": "The first market downtown opens on Saturday morning. Parking will be free."},
        ],
        "bio": "Alex Jones hosts the morning show.",
    },
}


def fixture(name_or_spec):
    """-> dict(dir, audio, transcript, truth) for a spec (or a SPECS name),
    generated once and cached by hash."""
    spec = SPECS[name_or_spec] if isinstance(name_or_spec, str) else name_or_spec
    h = hashlib.sha256(json.dumps(spec, sort_keys=True).encode())
    with open(MAKE_FIXTURE, "rb") as f:
        h.update(f.read())
    cache = CACHE_DIR
    try:
        os.makedirs(cache, exist_ok=True)
    except OSError:
        cache = os.path.join(tempfile.gettempdir(), "nextup-fixtures")   # read-only source tree
        os.makedirs(cache, exist_ok=True)
    d = os.path.join(cache, h.hexdigest()[:16])
    if not os.path.exists(os.path.join(d, "truth.json")):
        tmp = tempfile.mkdtemp(prefix=".tmp-", dir=cache)
        try:
            with open(os.path.join(tmp, "spec.json"), "w") as f:
                json.dump(spec, f)
            subprocess.run([sys.executable, MAKE_FIXTURE, tmp, os.path.join(tmp, "spec.json")],
                           check=True, stdout=subprocess.DEVNULL)
            try:
                os.rename(tmp, d)          # atomic: parallel test runs race safely
            except OSError:
                pass                       # another run made it first
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return story_dir(d)


def story_dir(d):
    with open(os.path.join(d, "truth.json"), encoding="utf-8") as f:
        truth = json.load(f)
    return {"dir": d, "audio": os.path.join(d, truth.get("audio", "audio.mp3")),
            "transcript": os.path.join(d, truth.get("transcript", "transcript.txt")),
            "truth": truth, "title": truth["title"]}


def shared_stories():
    """The stories of ../shared/stories when present (optional extras)."""
    if not os.path.isdir(SHARED_STORIES):
        return []
    return [story_dir(os.path.join(SHARED_STORIES, n)) for n in sorted(os.listdir(SHARED_STORIES))
            if os.path.exists(os.path.join(SHARED_STORIES, n, "truth.json"))]


def spoken_text(fx):
    return " ".join(s["text"] for s in fx["truth"]["sentences"])


def normalise(text, mark=">>"):
    """Cue text -> comparable words: no speaker marks, no line breaks."""
    if mark:
        text = text.replace(mark, " ")
    return " ".join(text.split())


def decoded_frames(mp3):
    """Exact decoded length (mpg123 is gapless: honours the LAME header)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "d.wav")
        subprocess.run(["mpg123", "-q", "-w", out, mp3], check=True)
        with wave.open(out) as w:
            return w.getnframes()


def decoded_samples(mp3):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "d.wav")
        subprocess.run(["mpg123", "-q", "-w", out, mp3], check=True)
        with wave.open(out) as w:
            return w.getnchannels(), w.readframes(w.getnframes())


def percentile(values, p):
    v = sorted(values)
    if not v:
        return None
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def free_port():
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, what, detail=None):
    """Polls PRED until it returns something truthy; fails after TIMEOUT s."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            msg = "timed out after %.1f s waiting for %s" % (timeout, what)
            if detail:
                msg += "\n" + detail()
            raise AssertionError(msg)
        time.sleep(0.02)


# ------------------------------------------------------------------ notify
class NotifyListener:
    """An AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages = []           # (monotonic s, "KEY=value")
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            t = time.monotonic()
            with self.lock:
                for line in data.decode("utf-8", "replace").split("\n"):
                    if line:
                        self.messages.append((t, line))

    def all(self, prefix=None):
        with self.lock:
            return [(t, m) for t, m in self.messages if prefix is None or m.startswith(prefix)]

    def close(self):
        self.running = False
        self.thread.join(1)
        self.sock.close()


# ------------------------------------------------------------------ daemon
class Subscriber:
    """A control connection subscribed to the event stream: it collects
    every line the daemon sends (the subscribe reply, then events)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.sendall(b'{"cmd":"subscribe"}\n')
        self.lines, self.lock = [], threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                with self.lock:
                    self.lines.append(json.loads(line))

    def events(self, name=None):
        with self.lock:
            return [e for e in self.lines if "event" in e and (name is None or e["event"] == name)]

    def first(self):
        with self.lock:
            return self.lines[0] if self.lines else None

    def close(self):
        self.sock.close()


def conf_str(s):
    return json.dumps(s)             # libconfig strings take the same escapes


class Daemon:
    """One nextupd in its own temp dir."""

    def __init__(self, tmp, output="null", rate=44100, channels=2, terminal=False,
                 webvtt=True, startup=(), log_level="debug", latency_ms=0, extra_sinks=(),
                 max_chars=37, max_lines=2, dropboxes=(), media_roots=None, sink_text=(), extra_text=""):
        self.tmp = tmp
        self.conf = os.path.join(tmp, "nextupd.conf")
        self.socket = os.path.join(tmp, "control.sock")
        self.state_dir = os.path.join(tmp, "state")
        self.jsonl = os.path.join(tmp, "captions.jsonl")
        self.archive = os.path.join(tmp, "archive")
        self.wav = os.path.join(tmp, "air.wav")
        self.stdout_path = os.path.join(tmp, "stdout.log")
        self.stderr_path = os.path.join(tmp, "stderr.log")
        os.makedirs(self.state_dir, exist_ok=True)
        os.makedirs(self.archive, exist_ok=True)
        self.opts = dict(output=output, rate=rate, channels=channels, terminal=terminal,
                         webvtt=webvtt, startup=list(startup), log_level=log_level,
                         latency_ms=latency_ms, extra_sinks=list(extra_sinks),
                         max_chars=max_chars, max_lines=max_lines, dropboxes=list(dropboxes),
                         media_roots=media_roots, sink_text=list(sink_text), extra_text=extra_text)
        self.write_config()
        self.proc = None
        self.pids = []  # every nextupd this Daemon started (sanitizer reports)
        self.notify = None
        self.started_at = None

    def config_text(self, output, rate, channels, terminal, webvtt, startup, log_level,
                    latency_ms, extra_sinks, max_chars, max_lines, dropboxes=(), media_roots=None,
                    sink_text=(), extra_text=""):
        sinks = []
        if terminal:
            sinks.append('{ type = "terminal"; latency_ms = %d; show_speaker = true; }' % latency_ms)
        sinks.append('{ type = "jsonl"; path = %s; latency_ms = %d; }' % (conf_str(self.jsonl), latency_ms))
        if webvtt:
            sinks.append('{ type = "webvtt"; path = %s; latency_ms = %d; }' % (conf_str(self.archive), latency_ms))
        for path in extra_sinks:
            if path.lstrip().startswith("{"):      # a sink entry as written in the config
                sinks.append(path)
            else:
                sinks.append('{ type = "jsonl"; path = %s; latency_ms = %d; }' % (conf_str(path), latency_ms))
        sinks += list(sink_text)    # raw libconfig groups, e.g. a tcp sink
        out = ['output = {', '  driver = %s;' % conf_str(output)]
        if output in ("wav", "raw", "au"):
            out.append('  file = %s;' % conf_str(self.wav))
        out += ['  rate = %d;' % rate, '  channels = %d;' % channels, '};',
                'control = {', '  socket = %s;' % conf_str(self.socket), '  mode = "0600";', '};',
                'state_dir = %s;' % conf_str(self.state_dir),
                'log_level = %s;' % conf_str(log_level),
                'captions = {', '  max_chars = %d;' % max_chars, '  max_lines = %d;' % max_lines,
                '  speaker_mark = ">>";', '  sinks = (', '    ' + ',\n    '.join(sinks), '  );', '};']
        if startup:
            items = ['{ audio = %s; transcript = %s; }' % (conf_str(f["audio"]), conf_str(f["transcript"]))
                     for f in startup]
            out.append('startup = ( ' + ',\n  '.join(items) + ' );')
        # The daemon reads only files under media_roots: the test's own
        # temp dir, the generated fixtures and the shared stories, unless a
        # test says otherwise ("default": the key left out).
        if media_roots is None:
            media_roots = [os.path.dirname(self.tmp), CACHE_DIR,
                           os.path.join(tempfile.gettempdir(), "nextup-fixtures"),
                           os.path.abspath(SHARED_STORIES), SOURCE_DIR]
        if media_roots != "default":
            out.append('media_roots = ( %s );' % ", ".join(conf_str(r) for r in media_roots))
        if dropboxes:
            # dicts of path (required), position, settle_ms, quarantine
            items = ['{ ' + ' '.join('%s = %s;' % (k, conf_str(v) if isinstance(v, str) else v)
                                     for k, v in sorted(box.items())) + ' }' for box in dropboxes]
            out.append('dropbox = ( ' + ',\n  '.join(items) + ' );')
        if extra_text:
            out.append(extra_text)  # raw top-level settings, e.g. http = { ... };
        return "\n".join(out) + "\n"

    def write_config(self, text=None, **changes):
        self.opts.update(changes)
        with open(self.conf, "w") as f:
            f.write(text if text is not None else self.config_text(**self.opts))

    # -------------------------------------------------------------- process
    def start(self, wait_ready=True, timeout=20, stdout=None, stderr=None, env=None):
        """STDOUT/STDERR: a descriptor for the daemon's instead of the
        files stdout()/stderr() read (e.g. a pipe nobody reads). ENV:
        variables added to the daemon's environment (slow_fsync_env)."""
        self.notify = NotifyListener(os.path.join(self.tmp, "notify.sock"))
        env = dict(os.environ, **(env or {}), NOTIFY_SOCKET=self.notify.path, WATCHDOG_USEC=str(WATCHDOG_USEC))
        env.pop("NEXTUP_SOCKET", None)
        # WATCHDOG_PID must be the daemon's own pid: let sh set it, then exec.
        cmd = ["sh", "-c", 'WATCHDOG_PID=$$ exec "$0" "$@"', binary("nextupd"), "-c", self.conf]
        self.out_f = open(self.stdout_path, "wb")
        self.err_f = open(self.stderr_path, "wb")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.out_f if stdout is None else stdout,
                                     stderr=self.err_f if stderr is None else stderr,
                                     stdin=subprocess.DEVNULL, cwd=self.tmp)
        self.pids.append(self.proc.pid)
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=20):
        wait_for(lambda: self.notify.all("READY=1") or self.proc.poll() is not None, timeout,
                 "READY=1", self.describe)
        if self.proc.poll() is not None:
            raise AssertionError("nextupd exited with %s before READY=1\n%s"
                                 % (self.proc.returncode, self.describe()))
        return self.notify.all("READY=1")[0][0] - self.started_at

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10):
        """SIGTERM; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("nextupd did not exit within %d s of SIGTERM\n%s"
                                     % (timeout, self.describe()))
        return self.proc.returncode

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.notify:
            self.notify.close()
        for f in ("out_f", "err_f"):
            if hasattr(self, f):
                getattr(self, f).close()

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def describe(self):
        err = self.stderr()
        return "--- nextupd stderr (last 3000 chars, %s) ---\n%s" % (self.tmp, err[-3000:])

    # -------------------------------------------------------------- control
    def request(self, obj, timeout=5):
        """Sends one JSON line (or raw bytes) and returns the parsed reply."""
        data = obj if isinstance(obj, bytes) else (json.dumps(obj) + "\n").encode()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.socket)
            s.sendall(data)
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        return json.loads(buf.decode()) if buf else None

    def ctl(self, *args, json_out=False, cwd=None, socket_path=None, timeout=10):
        cmd = [binary("nextupctl"), "-s", socket_path or self.socket]
        if json_out:
            cmd.append("--json")
        cmd += [str(a) for a in args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)

    def status(self):
        return self.request({"cmd": "status"})

    def add(self, fx):
        r = self.request({"cmd": "add", "audio": fx["audio"], "transcript": fx["transcript"]})
        if not r or not r.get("ok"):
            raise AssertionError("add %s failed: %r\n%s" % (fx["audio"], r, self.describe()))
        return r

    def wait_state(self, state, timeout):
        return wait_for(lambda: (lambda s: s if s.get("state") == state else None)(self.status()),
                        timeout, "state %r" % state, self.describe)

    def wait_on_air(self, story_id, timeout):
        def on_air():
            s = self.status()
            return s if s.get("on_air") and s["on_air"].get("id") == story_id else None
        return wait_for(on_air, timeout, "story %d on air" % story_id, self.describe)

    # -------------------------------------------------------------- sinks
    def cues(self, path=None):
        try:
            with open(path or self.jsonl, encoding="utf-8") as f:
                lines = f.read().split("\n")
        except FileNotFoundError:
            return []
        # The last line may be half written; only complete lines count.
        # Event lines ({"event": "next_up", ...}) are not cues.
        objs = [json.loads(l) for l in lines[:-1] if l.strip()]
        return [o for o in objs if "cue_index" in o]

    def jsonl_events(self, path=None):
        """The non-cue lines of the jsonl sink ({"event": ...})."""
        try:
            with open(path or self.jsonl, encoding="utf-8") as f:
                lines = f.read().split("\n")
        except FileNotFoundError:
            return []
        objs = [json.loads(l) for l in lines[:-1] if l.strip()]
        return [o for o in objs if "event" in o]

    def cues_of(self, story_id):
        return [c for c in self.cues() if c["story_id"] == story_id]


# What ASan, UBSan and TSan print on a finding: a test whose daemon printed
# one fails, even if the daemon went on (the sanitizer builds of scripts/test).
SANITIZER_REPORT = re.compile(r"WARNING: ThreadSanitizer|ERROR: (Address|Leak|Thread)Sanitizer|runtime error: ")
# ASan and LSan name the process: "==PID==ERROR: AddressSanitizer". The
# alignment child (nextup-caption) shares the daemon's stderr, and a child
# that crashes is contained by design (test_align_child crashes one on
# purpose, in libespeak-ng): only the daemon's own reports count.
ASAN_PID = re.compile(r"==(\d+)==ERROR: (?:Address|Leak)Sanitizer")


def sanitizer_report(err, pids):
    """True when ERR holds a sanitizer report of one of PIDS (or one that
    names no process: UBSan, TSan)."""
    for line in err.splitlines():
        if not SANITIZER_REPORT.search(line):
            continue
        m = ASAN_PID.search(line)
        if m is None or int(m.group(1)) in pids:
            return True
    return False


class NextupTestCase(unittest.TestCase):
    """Temp dir per test; daemons started through self.daemon() are killed
    (and checked for a clean exit by stop()) at the end."""

    def assertOnTime(self, late_us, bound_us, msg=None):
        """late_us < bound_us (times TIMING_SCALE; not checked under TSan)."""
        if TIMING_SCALE is not None:
            self.assertLess(late_us, bound_us * TIMING_SCALE, msg)

    def setUp(self):
        for b in ("nextupd", "nextupctl", "nextup-caption"):
            if not os.access(binary(b), os.X_OK):
                self.fail("%s not built in %s" % (b, BUILD_DIR))
        self.tmp = tempfile.mkdtemp(prefix="nextup-test.", dir="/tmp")
        self.daemons = []

    def tearDown(self):
        reports = []
        for d in self.daemons:
            d.cleanup()
            err = d.stderr() if os.path.exists(d.stderr_path) else ""
            if sanitizer_report(err, d.pids):
                reports.append(d.describe())
        if reports:
            self.fail("sanitizer report in nextupd's stderr\n" + "\n".join(reports))
        if KEEP:
            print("kept", self.tmp, file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def daemon(self, start=True, **kw):
        sub = tempfile.mkdtemp(dir=self.tmp)
        d = Daemon(sub, **kw)
        self.daemons.append(d)
        if start:
            d.start()
        return d

    def assertStops(self, d):
        rc = d.stop()
        self.assertEqual(rc, 0, "nextupd exit code on SIGTERM\n" + d.describe())


def main():
    unittest.main(verbosity=2)
