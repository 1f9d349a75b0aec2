/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nextupctl-calibrate.c: `nextupctl calibrate` measures the output latency
 * to put in the caption sinks' latency_ms.
 *
 * It starts a recorder of the air output (parec on a PulseAudio monitor
 * source, or any command writing raw s16le), queues the marker
 * (data/marker.mp3) as next up, learns from `status` when the marker's
 * frame 0 was handed to the device (on_air_mono_us, CLOCK_MONOTONIC), and
 * finds the marker's bursts in the recording. Their onset frames are put
 * on CLOCK_MONOTONIC by timing every read of the recorder's output (see
 * calibrate.h); heard minus handed is the latency. One thread: the
 * recorder's pipe is polled between the short requests to the daemon, and
 * a late read only loosens a bound the earlier, prompt reads already set. */
#include "nextupctl-calibrate.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "calibrate.h"
#include "cleanup.h"
#include "json-util.h"
#include "nextupctl-common.h"

#ifndef NEXTUP_DATADIR
#define NEXTUP_DATADIR "/usr/share/nextup"
#endif
#ifndef NEXTUP_DATADIR_FROM_BINDIR
#define NEXTUP_DATADIR_FROM_BINDIR "../share/nextup"
#endif

#define EXIT_USAGE 2
#define STATUS_EVERY_MS 20
#define LEAD_IN_MS 300 /* recorded before the marker is queued */
#define TAIL_MS 1000   /* recorded after the marker's last burst */
#define MARKER_MS (CALIBRATE_FIRST_MS + (CALIBRATE_COUNT - 1) * CALIBRATE_STEP_MS + CALIBRATE_BURST_MS)

struct calib_options {
        const char *socket;
        const char *source; /* PulseAudio source, default the default sink's monitor */
        const char *server;
        const char *record; /* shell command writing raw s16le on stdout */
        const char *marker;
        int rate, channels;
        long timeout_s; /* for the marker to go on air */
        bool json;
};

struct recorder {
        pid_t pid;
        int fd;
        int channels;
        uint8_t partial[16]; /* bytes of an incomplete frame */
        size_t n_partial;
        int16_t *pcm; /* mono mix */
        size_t n, size;
        struct calibrate_clock clock;
};

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int usage_error(const char *msg, const char *arg) {
        fprintf(stderr, "nextupctl: calibrate: %s%s%s%s\nTry 'nextupctl --help'.\n", msg, arg ? " '" : "",
                arg ? arg : "", arg ? "'" : "");
        return -EINVAL;
}

bool calibrate_wanted(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--socket") == 0) {
                        i++;
                        continue;
                }
                if (argv[i][0] != '-')
                        return strcmp(argv[i], "calibrate") == 0;
        }
        return false;
}

static int parse_int(const char *s, long lo, long hi, long *ret) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (!*s || *end || errno || v < lo || v > hi)
                return usage_error("invalid number", s);
        *ret = v;
        return 0;
}

/* Options that take a value: "--opt VALUE" or "--opt=VALUE". */
static int option_value(int argc, char **argv, int *i, const char *name, const char **ret) {
        size_t len = strlen(name);

        if (strncmp(argv[*i], name, len) != 0)
                return 0;
        if (argv[*i][len] == '=') {
                *ret = argv[*i] + len + 1;
                return 1;
        }
        if (argv[*i][len] != '\0')
                return 0;
        if (*i + 1 >= argc)
                return usage_error("option needs a value:", argv[*i]);
        *ret = argv[++*i];
        return 1;
}

static int set_option(struct calib_options *o, const char *name, const char *v) {
        long n;

        if (strcmp(name, "--rate") == 0 || strcmp(name, "--channels") == 0) {
                bool rate = name[2] == 'r';

                if (parse_int(v, rate ? 8000 : 1, rate ? 192000 : 2, &n) < 0)
                        return -EINVAL;
                *(rate ? &o->rate : &o->channels) = (int)n;
        } else if (strcmp(name, "--timeout") == 0) {
                if (parse_int(v, 1, 86400, &n) < 0)
                        return -EINVAL;
                o->timeout_s = n;
        } else
                *(strcmp(name, "--source") == 0   ? &o->source
                  : strcmp(name, "--server") == 0 ? &o->server
                  : strcmp(name, "--record") == 0 ? &o->record
                  : strcmp(name, "--marker") == 0 ? &o->marker
                                                  : &o->socket) = v;
        return 0;
}

static int parse_options(int argc, char **argv, struct calib_options *o) {
        static const char *const names[] = {"--socket", "-s",     "--source",   "--server", "--record",
                                            "--marker", "--rate", "--channels", "--timeout"};

        for (int i = 1; i < argc; i++) {
                const char *v = NULL;
                int r = 0;
                size_t k;

                if (strcmp(argv[i], "calibrate") == 0)
                        continue;
                if (strcmp(argv[i], "--json") == 0) {
                        o->json = true;
                        continue;
                }
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
                        return 1;
                for (k = 0; k < ELEMENTSOF(names) && r == 0; k++)
                        r = option_value(argc, argv, &i, names[k], &v);
                if (r < 0)
                        return r;
                if (r == 0)
                        return usage_error("unknown argument", argv[i]);
                if (set_option(o, names[k - 1], v) < 0)
                        return -EINVAL;
        }
        if (o->record && (o->source || o->server))
                return usage_error("use either --record or --source/--server", NULL);
        return 0;
}

/* ---- the recorder ------------------------------------------------------ */

static int recorder_spawn(const struct calib_options *o, struct recorder *rec) {
        char rate[32], channels[32], source[PATH_MAX], server[PATH_MAX];
        int p[2];
        pid_t pid;

        snprintf(rate, sizeof rate, "--rate=%d", o->rate);
        snprintf(channels, sizeof channels, "--channels=%d", o->channels);
        snprintf(source, sizeof source, "--device=%s", o->source ? o->source : "@DEFAULT_MONITOR@");
        snprintf(server, sizeof server, "--server=%s", o->server ? o->server : "");
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                /* Its own process group: a --record pipeline stops as a whole. */
                setpgid(0, 0);
                dup2(p[1], STDOUT_FILENO);
                if (o->record)
                        execl("/bin/sh", "sh", "-c", o->record, (char *)NULL);
                else
                        execlp("parec", "parec", "--raw", "--format=s16le", rate, channels,
                               "--latency-msec=5", "--client-name=nextupctl calibrate", source,
                               o->server ? server : NULL, (char *)NULL);
                fprintf(stderr, "nextupctl: cannot run the recorder: %s\n", strerror(errno));
                _exit(127);
        }
        setpgid(pid, pid); /* as the child does: whichever runs first */
        close(p[1]);
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        rec->pid = pid;
        rec->fd = p[0];
        return 0;
}

/* The complete frame in rec->partial, mixed to mono. */
static int push_frame(struct recorder *rec) {
        int sum = 0;

        if (rec->n == rec->size) {
                size_t size = rec->size ? rec->size * 2 : 1 << 16;
                int16_t *p = realloc(rec->pcm, size * sizeof *p);

                if (!p)
                        return -ENOMEM;
                rec->pcm = p;
                rec->size = size;
        }
        for (int c = 0; c < rec->channels; c++)
                sum += (int16_t)(rec->partial[2 * c] | rec->partial[2 * c + 1] << 8);
        rec->pcm[rec->n++] = (int16_t)(sum / rec->channels);
        rec->n_partial = 0;
        return 0;
}

static int recorder_append(struct recorder *rec, const uint8_t *buf, size_t len, int64_t t) {
        size_t frame = 2 * (size_t)rec->channels, n_frames;

        while (len > 0) {
                size_t take = MIN(len, frame - rec->n_partial);

                memcpy(rec->partial + rec->n_partial, buf, take);
                rec->n_partial += take;
                buf += take;
                len -= take;
                if (rec->n_partial < frame)
                        break;
                if (push_frame(rec) < 0)
                        return -ENOMEM;
        }
        n_frames = rec->n - (size_t)rec->clock.frames;
        calibrate_clock_add(&rec->clock, (int64_t)n_frames, (uint64_t)t);
        return 0;
}

/* Reads what the recorder has written, waiting up to TIMEOUT_MS for it.
 * -EPIPE when it exited. */
static int recorder_pump(struct recorder *rec, int timeout_ms) {
        struct pollfd p = {.fd = rec->fd, .events = POLLIN};
        uint8_t buf[65536];
        ssize_t n;

        if (poll(&p, 1, timeout_ms) <= 0)
                return 0;
        for (;;) {
                n = read(rec->fd, buf, sizeof buf);
                if (n == 0)
                        return -EPIPE;
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                if (recorder_append(rec, buf, (size_t)n, now_ns()) < 0)
                        return -ENOMEM;
        }
}

static void recorder_stop(struct recorder *rec) {
        if (rec->pid > 0) {
                kill(-rec->pid, SIGTERM);
                waitpid(rec->pid, NULL, 0);
                rec->pid = 0;
        }
        if (rec->fd >= 0)
                close(rec->fd);
        rec->fd = -1;
        free(rec->pcm);
}

/* ---- the daemon -------------------------------------------------------- */

/* Queues the marker as next up: returns its story id. */
static int queue_marker(const struct calib_options *o, long long *ret_id) {
        _cleanup_json_ struct json_object *req = json_object_new_object(), *reply = NULL;
        _cleanup_free_ char *audio = realpath(o->marker, NULL), *transcript = NULL;
        size_t len;
        int r;

        if (!audio)
                return fprintf(stderr, "nextupctl: calibrate: marker '%s': %s\n", o->marker,
                               strerror(errno)),
                       -ENOENT;
        len = strlen(audio);
        if (len < 4 || !(transcript = strdup(audio)))
                return -EINVAL;
        strcpy(transcript + len - 4, ".txt"); /* marker.mp3 -> marker.txt beside it */
        json_object_object_add(req, "cmd", json_object_new_string("insert"));
        json_object_object_add(req, "audio", json_object_new_string(audio));
        json_object_object_add(req, "transcript", json_object_new_string(transcript));
        json_object_object_add(req, "position", json_object_new_int(0));
        r = ctl_request(o->socket, req, &reply);
        if (r < 0)
                return r == -EBADMSG || r == -EREMOTEIO ? -EINVAL : -ECOMM;
        *ret_id = ctl_json_int(reply, "id", -1);
        return 0;
}

/* On-air time (ns) of story ID if it is on air, 0 if not (yet or any more),
 * -errno when the daemon cannot be asked. */
static int64_t on_air_ns(const char *socket_path, long long id) {
        _cleanup_json_ struct json_object *req = json_object_new_object(), *reply = NULL;
        struct json_object *on_air;
        long long us;
        int r;

        json_object_object_add(req, "cmd", json_object_new_string("status"));
        r = ctl_request(socket_path, req, &reply);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(reply, "on_air", &on_air) || ctl_json_int(on_air, "id", -1) != id)
                return 0;
        us = ctl_json_int(reply, "on_air_mono_us", -1);
        return us > 0 ? us * 1000 : 0;
}

/* ---- the measurement --------------------------------------------------- */

/* Records LEAD_IN_MS, queues the marker, records until TAIL_MS after its
 * last burst. Returns the marker's on-air time (ns). */
static int64_t record_marker(const struct calib_options *o, struct recorder *rec) {
        int64_t deadline = now_ns() + 5000000000LL, t_on_air = 0, t, next_status = 0;
        long long id = -1;
        int r;

        while (rec->n < (size_t)(LEAD_IN_MS * o->rate / 1000))
                if ((r = recorder_pump(rec, 20)) < 0 || now_ns() > deadline)
                        return fprintf(stderr, "nextupctl: calibrate: the recorder gave no audio%s\n",
                                       r == -EPIPE ? " (it exited)" : ""),
                               -EIO;
        r = queue_marker(o, &id);
        if (r < 0)
                return r;
        deadline = now_ns() + o->timeout_s * 1000000000LL;
        for (;;) {
                if ((r = recorder_pump(rec, 5)) < 0)
                        return fprintf(stderr, "nextupctl: calibrate: the recorder stopped\n"), r;
                t = now_ns();
                if (t_on_air && t > t_on_air + (MARKER_MS + TAIL_MS) * 1000000LL)
                        return t_on_air;
                if (t > deadline)
                        return fprintf(stderr,
                                       "nextupctl: calibrate: the marker did not go on air within %ld s\n",
                                       o->timeout_s),
                               -ETIMEDOUT;
                if (t_on_air || t < next_status)
                        continue;
                next_status = t + STATUS_EVERY_MS * 1000000LL;
                t_on_air = on_air_ns(o->socket, id);
                if (t_on_air < 0)
                        return -ECOMM; /* ctl_request said why */
        }
}

static void print_result(const struct calibrate_result *res, bool json) {
        if (json) {
                printf("{\"ok\":true,\"latency_ms\":%.2f,\"spread_ms\":%.2f,\"peak\":%d,\"bursts_ms\":[",
                       res->latency_ms, res->spread_ms, res->peak);
                for (int k = 0; k < CALIBRATE_COUNT; k++)
                        printf("%s%.2f", k ? "," : "", res->burst_ms[k]);
                puts("]}");
                return;
        }
        printf("Output latency: %.1f ms (median of %d markers, spread %.1f ms)\n", res->latency_ms,
               CALIBRATE_COUNT, res->spread_ms);
        printf("Put latency_ms = %.0f; in the caption sinks of this output, then reload.\n",
               res->latency_ms);
}

/* The marker installed with this nextupctl: the data folder relative to
 * the folder of our own binary, so that a tree installed or moved under
 * another prefix finds its own copy; else the configured data folder. */
static const char *calibrate_default_marker(void) {
        static char path[PATH_MAX];
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

        if (n > 0) {
                exe[n] = 0;
                snprintf(path, sizeof path, "%.*s/" NEXTUP_DATADIR_FROM_BINDIR "/marker.mp3",
                         (int)(strrchr(exe, '/') - exe), exe);
                if (access(path, R_OK) == 0)
                        return path;
        }
        return NEXTUP_DATADIR "/marker.mp3";
}

void calibrate_help(void) {
        const char *marker = calibrate_default_marker();

        printf("Usage: nextupctl [-s SOCKET] calibrate [--source PULSE_SOURCE [--server ADDR] | --record "
               "CMD]\n"
               "                 [--marker FILE] [--rate HZ] [--channels N] [--timeout S] [--json]\n"
               "Measures the output latency: records the output, puts a marker story on air\n"
               "as next up and times its bursts in the recording.\n\n"
               "  --source NAME     record this PulseAudio source (default: the default source)\n"
               "  --server ADDR     the PulseAudio server to record from\n"
               "  --record CMD      record with this command, which writes raw s16le PCM\n"
               "  --marker FILE     the marker MP3, its transcript beside it (default '%s')\n"
               "  --rate HZ         recording rate (default 44100)\n"
               "  --channels N      recording channels, 1 or 2 (default 2)\n"
               "  --timeout S       how long to wait for the marker to go on air (default 600)\n"
               "  --json            print the result as JSON\n\n"
               "Exit status: 0 measured, 1 the measurement failed, 2 usage error or daemon\n"
               "unreachable.\n",
               marker);
}

int calibrate_main(int argc, char **argv) {
        const char *env = getenv("NEXTUP_SOCKET");
        struct calib_options o = {
                .rate = 44100, .channels = 2, .timeout_s = 600, .marker = calibrate_default_marker()};
        struct recorder rec = {.fd = -1};
        struct calibrate_result res;
        int64_t t_on_air;
        int r;

        r = parse_options(argc, argv, &o);
        if (r < 0)
                return EXIT_USAGE;
        if (r > 0)
                return calibrate_help(), EXIT_SUCCESS;
        if (!o.socket)
                o.socket = env && env[0] ? env : CTL_DEFAULT_SOCKET;
        rec.channels = o.channels;
        calibrate_clock_init(&rec.clock, o.rate);
        r = recorder_spawn(&o, &rec);
        if (r < 0) {
                fprintf(stderr, "nextupctl: calibrate: cannot start the recorder: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        t_on_air = record_marker(&o, &rec);
        if (t_on_air >= 0)
                r = calibrate_measure(rec.pcm, rec.n, &rec.clock, t_on_air, &res);
        recorder_stop(&rec);
        if (t_on_air < 0)
                return t_on_air == -ECOMM ? EXIT_USAGE : EXIT_FAILURE;
        if (r < 0) {
                fprintf(stderr, "nextupctl: calibrate: the marker was not found in the recording (%s)\n",
                        r == -ENOENT ? "too quiet, or not this output's audio" : strerror(-r));
                return EXIT_FAILURE;
        }
        print_result(&res, o.json);
        return EXIT_SUCCESS;
}
