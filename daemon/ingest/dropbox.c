/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dropbox.c: watched folders that queue the stories dropped into them
 * (see dropbox.h).
 *
 * One inotify fd watches every folder; a "pair" is the state of one stem
 * (NAME.mp3 + NAME.vtt/.srt/.txt): which files are there, whether each is
 * complete (IN_CLOSE_WRITE or IN_MOVED_TO; an IN_MODIFY makes it
 * incomplete again, so a file rewritten in place waits for its close),
 * and when the last event on any of them came. One timer wakes at the
 * earliest settle deadline; a complete, settled pair is validated on our
 * own worker thread (so a long decode scan never delays the manager's
 * ingest), and the result is acted on back on the loop: moved to
 * accepted/ and handed to take(), or moved to quarantine with NAME.error.
 *
 * DESIGN: the worker reads the files (and, for a refused story whose
 * quarantine is on another file system, copies them there with fsync,
 * the slow part of such a move); every decision and every rename or
 * unlink in the watched folder happens on the loop thread, in done(),
 * after draining pending inotify events. So a story
 * whose files changed during the validation (pair->dirty) is not moved but
 * settles again, and a story whose validation was cancelled at shutdown
 * stays in the folder, where the next start finds it. Moving out of the
 * folder (not marking) is what keeps a story from being taken twice, even
 * across restarts. */
#include "dropbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "decoder.h"
#include "fileio.h"
#include "log.h"
#include "segment.h"
#include "story.h"
#include "timing.h"
#include "worker.h"

#define WATCH_MASK                                                                                          \
        (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MODIFY | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF |            \
         IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)
#define COMPLETE_MASK (IN_CLOSE_WRITE | IN_MOVED_TO)
#define GONE_MASK (IN_DELETE | IN_MOVED_FROM)
#define log_oom() log_error_errno(ENOMEM, "Out of memory")

static const char *const kind_ext[_DROPBOX_KIND_MAX] = {".mp3", ".vtt", ".srt", ".txt"};

struct pair {
        struct pair *next;
        char *stem;
        char *names[_DROPBOX_KIND_MAX];   /* file names present, by kind; NULL when absent */
        bool complete[_DROPBOX_KIND_MAX]; /* closed after writing, moved in, or found at start */
        uint64_t last_usec;               /* CLOCK_MONOTONIC of the last event on any of them */
        bool settled;                     /* looked at after its settle time, nothing new since */
        bool busy;                        /* a validation job is out */
        bool dirty;                       /* an event came while busy: that result is stale */
};

struct folder {
        struct dropbox *box;
        char *path;
        char *accepted;
        char *quarantine;
        int position;
        uint64_t settle_usec;
        int wd; /* -1 once the folder went away */
        struct pair *pairs;
};

struct dropbox {
        int inotify_fd;
        sd_event_source *io_source;
        sd_event_source *timer_source;
        struct worker *worker;
        struct folder *folders;
        size_t n_folders;
        long rate;
        int max_chars, max_lines; /* the config's caption settings, as `add` segments */
        char *speaker_mark;
        bool stopping;
        dropbox_take_t take;
        void *userdata;
};

/* Owns copies of what the worker reads; pair/folder are only touched on the loop. */
struct check_job {
        struct folder *folder;
        struct pair *pair;
        enum dropbox_kind transcript_kind;
        char *audio;
        char *transcript;
        long rate;
        int max_chars, max_lines;
        char *speaker_mark;
        struct audio_scan scan; /* the audio's, once checked */
        bool ran;
        int r;
        char *error; /* every problem found, one per line */
        /* A refused story whose quarantine is on another file system is
         * copied there by the worker (the slow part: read, write, fsync);
         * the loop then only unlinks the originals, or the copies when the
         * files changed meanwhile. */
        char *folder_path, *quarantine, *stem;
        char *names[_DROPBOX_KIND_MAX];
        char *staged[_DROPBOX_KIND_MAX + 1]; /* copies made, and the .error file */
        char *staged_stem;
};

static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

static const char *base_name(const char *path) {
        const char *b = strrchr(path, '/');

        return b ? b + 1 : path;
}

/* A + SEP + B, malloc'd, or NULL (asprintf leaves its pointer undefined on failure). */
static char *strjoin3(const char *a, const char *sep, const char *b) {
        char *s;

        return asprintf(&s, "%s%s%s", a, sep, b) < 0 ? NULL : s;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- pure helpers ---------------------------------------------------- */

enum dropbox_kind dropbox_classify(const char *name, size_t *ret_stem_len) {
        const char *dot = strrchr(name, '.');

        /* Hidden names are how rsync and friends write before the final
         * rename: the rename brings the real name in with IN_MOVED_TO. */
        if (!dot || name[0] == '.')
                return DROPBOX_OTHER;
        for (int k = 0; k < _DROPBOX_KIND_MAX; k++)
                if (strcasecmp(dot, kind_ext[k]) == 0) {
                        *ret_stem_len = (size_t)(dot - name);
                        return (enum dropbox_kind)k;
                }
        return DROPBOX_OTHER;
}

int dropbox_unique_stem(const char *dir, const char *stem, const char *const *exts, char **ret) {
        for (unsigned k = 0; k < 10000; k++) {
                _cleanup_free_ char *s = NULL;
                bool clash = false;
                char suffix[16] = "";
                struct stat st;

                if (k)
                        snprintf(suffix, sizeof suffix, "-%u", k);
                s = strjoin3(stem, "", suffix);
                if (!s)
                        return -ENOMEM;
                for (size_t i = 0; exts[i] && !clash; i++) {
                        _cleanup_free_ char *name = strjoin3(s, "", exts[i]);
                        _cleanup_free_ char *p = name ? strjoin3(dir, "/", name) : NULL;

                        if (!p)
                                return -ENOMEM;
                        clash = lstat(p, &st) >= 0;
                }
                if (!clash) {
                        *ret = TAKE_PTR(s);
                        return 0;
                }
        }
        return -EEXIST;
}

/* ---- files ----------------------------------------------------------- */

/* rename(2) cannot cross file systems, and a quarantine folder may be
 * elsewhere: then copy (synced) and unlink. A symlink is copied as a
 * symlink, never what it points to (it may point at /etc/shadow), and a
 * FIFO or device is not opened for reading (O_NONBLOCK, regular only). */
static int copy_file(const char *from, const char *to) {
        _cleanup_close_ int in = -1, out = -1;
        char buf[65536];
        ssize_t n;
        int r;

        r = fileio_open_regular(from, O_NOFOLLOW, &in, NULL);
        if (r == -ELOOP) {
                n = readlink(from, buf, sizeof buf - 1);
                if (n < 0)
                        return -errno;
                buf[n] = 0;
                return symlink(buf, to) < 0 ? -errno : 0;
        }
        if (r < 0)
                return r;
        out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (out < 0)
                return -errno;
        while ((n = read(in, buf, sizeof buf)) > 0)
                if (write(out, buf, (size_t)n) != n)
                        goto fail;
        if (n < 0 || fsync(out) < 0)
                goto fail;
        return 0;
fail:
        n = errno ? -errno : -EIO;
        unlink(to);
        return (int)n;
}

static int move_file(const char *from, const char *to) {
        int r;

        if (rename(from, to) >= 0)
                return 0;
        if (errno != EXDEV)
                return -errno;
        r = copy_file(from, to);
        if (r >= 0 && unlink(from) < 0)
                r = -errno;
        return r;
}

/* Moves every present file of P from SRC to DST under one free stem, so
 * the pair stays a pair there and its .error file matches; P's names
 * follow. Fills PATHS (absolute, by kind; caller frees). */
static int pair_move(struct pair *p, const char *src, const char *dst, char *paths[_DROPBOX_KIND_MAX]) {
        const char *exts[_DROPBOX_KIND_MAX + 2];
        _cleanup_free_ char *stem = NULL;
        size_t n = 0, stem_len = strlen(p->stem);
        int r;

        for (int k = 0; k < _DROPBOX_KIND_MAX; k++)
                if (p->names[k])
                        exts[n++] = p->names[k] + stem_len;
        exts[n++] = ".error";
        exts[n] = NULL;
        r = dropbox_unique_stem(dst, p->stem, exts, &stem);
        if (r < 0)
                return log_error_errno(r, "Cannot find a free name for '%s' in '%s': %m", p->stem, dst);
        for (int k = 0; k < _DROPBOX_KIND_MAX; k++) {
                _cleanup_free_ char *from = NULL, *name = NULL, *to = NULL;

                if (!p->names[k])
                        continue;
                from = strjoin3(src, "/", p->names[k]);
                name = strjoin3(stem, "", p->names[k] + stem_len);
                to = name ? strjoin3(dst, "/", name) : NULL;
                if (!from || !to)
                        return log_oom();
                r = move_file(from, to);
                if (r < 0)
                        return log_error_errno(r, "Cannot move '%s' to '%s': %m", from, to);
                free(p->names[k]);
                p->names[k] = TAKE_PTR(name);
                paths[k] = TAKE_PTR(to);
        }
        free(p->stem);
        p->stem = TAKE_PTR(stem);
        return 0;
}

/* ---- pairs ----------------------------------------------------------- */

static struct pair *pair_free(struct pair *p) {
        if (p) {
                for (int k = 0; k < _DROPBOX_KIND_MAX; k++)
                        free(p->names[k]);
                free(p->stem);
                free(p);
        }
        return NULL;
}

static void pair_remove(struct folder *f, struct pair *p) {
        for (struct pair **pp = &f->pairs; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        pair_free(p);
                        return;
                }
}

static bool pair_empty(const struct pair *p) {
        for (int k = 0; k < _DROPBOX_KIND_MAX; k++)
                if (p->names[k])
                        return false;
        return true;
}

/* The transcript to use: a timed one first (it carries its own times). */
static enum dropbox_kind pair_transcript(const struct pair *p) {
        for (int k = DROPBOX_VTT; k < _DROPBOX_KIND_MAX; k++)
                if (p->names[k])
                        return (enum dropbox_kind)k;
        return DROPBOX_OTHER;
}

static struct pair *folder_pair(struct folder *f, const char *name, size_t stem_len, bool create) {
        struct pair *p;

        for (p = f->pairs; p; p = p->next)
                if (strlen(p->stem) == stem_len && strncmp(p->stem, name, stem_len) == 0)
                        return p;
        if (!create)
                return NULL;
        p = calloc(1, sizeof *p);
        if (!p || !(p->stem = strndup(name, stem_len))) {
                free(p);
                return NULL;
        }
        p->next = f->pairs;
        f->pairs = p;
        return p;
}

/* One file of the folder appeared, changed, was completed or went away. */
static void folder_file_event(struct folder *f, const char *name, uint32_t mask, uint64_t now) {
        size_t stem_len = 0;
        enum dropbox_kind k = dropbox_classify(name, &stem_len);
        bool gone = mask & GONE_MASK;
        struct pair *p;

        if (k == DROPBOX_OTHER)
                return;
        p = folder_pair(f, name, stem_len, !gone);
        if (!p) {
                if (!gone)
                        log_oom();
                return;
        }
        if (gone) {
                if (p->names[k] && strcmp(p->names[k], name) == 0) {
                        free(p->names[k]);
                        p->names[k] = NULL;
                        p->complete[k] = false;
                }
        } else {
                if (!p->names[k] || strcmp(p->names[k], name) != 0) {
                        char *c = strdup(name);

                        if (!c) {
                                log_oom();
                                return;
                        }
                        free(p->names[k]);
                        p->names[k] = c;
                }
                p->complete[k] = mask & COMPLETE_MASK;
        }
        p->last_usec = now;
        p->settled = false;
        if (p->busy)
                p->dirty = true;
        else if (pair_empty(p))
                pair_remove(f, p);
}

/* ---- outcomes (loop thread) ------------------------------------------ */

/* Moves the story from SRC to the quarantine folder, with NAME.error
 * holding WHY. */
static void folder_quarantine(struct folder *f, struct pair *p, const char *src, const char *why) {
        char *paths[_DROPBOX_KIND_MAX] = {};
        _cleanup_free_ char *error_name = NULL, *error_path = NULL, *oneline = NULL;
        _cleanup_fclose_ FILE *e = NULL;
        int r;

        r = fileio_mkdir_p(f->quarantine, 0755);
        if (r < 0) {
                log_error_errno(r,
                                "Dropbox '%s': cannot create the quarantine folder '%s': %m; '%s' stays in "
                                "'%s' (%s)",
                                f->path, f->quarantine, p->stem, src, why);
                return;
        }
        if (pair_move(p, src, f->quarantine, paths) < 0)
                goto finish; /* pair_move said why */
        error_name = strjoin3(p->stem, "", ".error");
        error_path = error_name ? strjoin3(f->quarantine, "/", error_name) : NULL;
        r = error_path ? 0 : -ENOMEM;
        if (r >= 0 && !(e = fopen(error_path, "we")))
                r = -errno;
        if (r >= 0 && (fprintf(e, "%s\n", why) < 0 || fflush(e) != 0))
                r = -EIO;
        if (r < 0)
                log_error_errno(r, "Dropbox '%s': cannot write '%s.error': %m", f->path, p->stem);
        oneline = strdup(why);
        for (char *c = oneline; c && *c; c++)
                if (*c == '\n')
                        *c = ' ';
        log_warning("Dropbox '%s': quarantined '%s' in '%s': %s", f->path, p->stem, f->quarantine,
                    oneline ? oneline : why);
finish:
        for (int k = 0; k < _DROPBOX_KIND_MAX; k++)
                free(paths[k]);
}

/* Moves the story to accepted/ and queues it from there. */
static void folder_accept(struct folder *f, struct pair *p, enum dropbox_kind transcript,
                          const struct audio_scan *scan) {
        char *paths[_DROPBOX_KIND_MAX] = {};
        _cleanup_free_ char *error = NULL;
        int r;

        if (mkdir(f->accepted, 0755) < 0 && errno != EEXIST) {
                log_error_errno(errno, "Dropbox '%s': cannot create '%s': %m; '%s' stays in the folder",
                                f->path, f->accepted, p->stem);
                return;
        }
        if (pair_move(p, f->path, f->accepted, paths) < 0)
                goto finish;
        log_info("Dropbox '%s': taking '%s' + '%s'", f->path, p->names[DROPBOX_AUDIO], p->names[transcript]);
        r = f->box->take(paths[DROPBOX_AUDIO], paths[transcript], f->position, scan, &error,
                         f->box->userdata);
        if (r < 0)
                folder_quarantine(f, p, f->accepted, error ? error : strerror(-r));
finish:
        for (int k = 0; k < _DROPBOX_KIND_MAX; k++)
                free(paths[k]);
}

/* ---- validation (worker thread) -------------------------------------- */

static struct check_job *check_job_free(struct check_job *j) {
        if (j) {
                free(j->audio);
                free(j->transcript);
                free(j->speaker_mark);
                free(j->error);
                free(j->folder_path);
                free(j->quarantine);
                free(j->stem);
                free(j->staged_stem);
                for (int k = 0; k < _DROPBOX_KIND_MAX; k++)
                        free(j->names[k]);
                for (int k = 0; k <= _DROPBOX_KIND_MAX; k++)
                        free(j->staged[k]);
                free(j);
        }
        return NULL;
}

/* "PATH:3: msg" -> "NAME:3: msg": the .error file sits next to the file. */
static char *error_with_name(const char *error, const char *path) {
        size_t n = strlen(path);

        if (strncmp(error, path, n) == 0)
                return strjoin3(base_name(path), "", error + n);
        return strdup(error);
}

/* The queue's own check (story.h) with the caption settings `add` uses
 * (a story the dropbox takes is one `add` would take), worded for the
 * .error file; the cues in *RET_CUES for the length check. */
static int check_transcript(const struct check_job *j, struct cue_list **ret_cues, char **ret_error) {
        _cleanup_free_ char *error = NULL;
        struct segment_opts o = {
                .max_chars = j->max_chars,
                .max_lines = j->max_lines,
                .speaker_mark = j->speaker_mark,
        };
        const char *path = j->transcript;
        int r;

        r = story_check_transcript(path, &o, ret_cues, NULL, &error);
        if (r < 0)
                *ret_error = error ? error_with_name(error, path)
                                   : strjoin3(base_name(path), ": ",
                                              segment_strerror(r == -ENODATA ? -EINVAL : r));
        return r;
}

static int check_audio(const char *path, long rate, struct audio_scan *ret_scan, char **ret_error) {
        struct audio_scan scan;
        const char *why;
        int r;

        r = decoder_scan(path, rate, &scan);
        if (r >= 0) {
                *ret_scan = scan;
                return 0;
        }
        why = r == -EINVAL ? "no MPEG audio frames (empty, not an MP3, or damaged)"
              : r == -EIO  ? "decoder error"
                           : strerror(-r);
        *ret_error = strjoin3(base_name(path), ": not decodable: ", why);
        return r;
}

/* Who may drop a file: root, the daemon's own user, or a file of the
 * `nextup` group (the group that may write into the dropbox folders). */
static bool owner_allowed(const struct stat *st) {
        struct group grp, *g = NULL;
        char buf[4096];

        if (st->st_uid == 0 || st->st_uid == geteuid())
                return true;
        /* _r: the loop thread may look groups up at the same time. */
        return getgrnam_r("nextup", &grp, buf, sizeof buf, &g) == 0 && g && st->st_gid == g->gr_gid;
}

/* The file itself, before its content: a regular file (never a symlink,
 * which could point at /etc/shadow, nor a hard link to a file elsewhere)
 * owned by an allowed user. Opened O_NONBLOCK, so a FIFO cannot block. */
static int check_file(const char *path, char **ret_error) {
        _cleanup_close_ int fd = -1;
        const char *why = NULL;
        struct stat st;
        int r;

        r = fileio_open_regular(path, O_NOFOLLOW, &fd, &st);
        if (r == -ELOOP)
                why = "a symbolic link, refused";
        else if (r < 0)
                why = fileio_strerror(r);
        else if (st.st_nlink > 1)
                why = "has other hard links, refused";
        else if (!owner_allowed(&st))
                why = "not owned by root, the daemon's user or the nextup group, refused";
        if (!why)
                return 0;
        *ret_error = strjoin3(base_name(path), ": ", why);
        return r < 0 ? r : -EPERM;
}

static bool same_fs(const char *a, const char *b) {
        struct stat sa, sb;

        return stat(a, &sa) >= 0 && stat(b, &sb) >= 0 && sa.st_dev == sb.st_dev;
}

static void unlink_all(char **paths, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (paths[i])
                        (void)unlink(paths[i]);
}

/* Worker: copies the refused story into a quarantine on another file
 * system, with its .error file, under a free stem. On failure nothing is
 * left there and the loop falls back to moving it itself. */
static void stage_quarantine(struct check_job *j) {
        const char *exts[_DROPBOX_KIND_MAX + 2];
        size_t n = 0, stem_len = strlen(j->stem);
        _cleanup_fclose_ FILE *e = NULL;
        int r;

        if (fileio_mkdir_p(j->quarantine, 0755) < 0 || same_fs(j->folder_path, j->quarantine))
                return; /* a rename will do, on the loop */
        for (int k = 0; k < _DROPBOX_KIND_MAX; k++)
                if (j->names[k])
                        exts[n++] = j->names[k] + stem_len;
        exts[n++] = ".error";
        exts[n] = NULL;
        if (dropbox_unique_stem(j->quarantine, j->stem, exts, &j->staged_stem) < 0)
                return;
        r = 0;
        for (int k = 0; r >= 0 && k < _DROPBOX_KIND_MAX; k++) {
                _cleanup_free_ char *from = NULL, *name = NULL;

                if (!j->names[k])
                        continue;
                from = strjoin3(j->folder_path, "/", j->names[k]);
                name = strjoin3(j->staged_stem, "", j->names[k] + stem_len);
                j->staged[k] = name ? strjoin3(j->quarantine, "/", name) : NULL;
                r = from && j->staged[k] ? copy_file(from, j->staged[k]) : -ENOMEM;
                if (r < 0)
                        j->staged[k] = (free(j->staged[k]), NULL);
        }
        if (r >= 0) {
                _cleanup_free_ char *name = strjoin3(j->staged_stem, "", ".error");

                j->staged[_DROPBOX_KIND_MAX] = name ? strjoin3(j->quarantine, "/", name) : NULL;
                e = j->staged[_DROPBOX_KIND_MAX] ? fopen(j->staged[_DROPBOX_KIND_MAX], "wxe") : NULL;
                if (!e || fprintf(e, "%s\n", j->error ? j->error : strerror(-j->r)) < 0 || fflush(e) != 0 ||
                    fsync(fileno(e)) < 0)
                        r = -EIO;
        }
        if (r < 0) {
                unlink_all(j->staged, _DROPBOX_KIND_MAX + 1);
                for (int k = 0; k <= _DROPBOX_KIND_MAX; k++)
                        j->staged[k] = (free(j->staged[k]), NULL);
        }
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct cue_list *, cue_list_free);

/* Both checks run, so the .error file names every problem at once; then
 * the transcript against the audio's length, as for `add`. */
static void check_work(void *p) {
        struct check_job *j = p;
        _cleanup_free_ char *te = NULL, *ae = NULL;
        _cleanup_(cue_list_freep) struct cue_list *cues = NULL;
        struct audio_scan scan = {0};
        const char *why;
        int rt, ra;

        rt = check_file(j->transcript, &te);
        ra = check_file(j->audio, &ae);
        if (rt < 0 || ra < 0) {
                /* Nothing of a refused file is read. */
                j->r = rt < 0 ? rt : ra;
                j->error = te && ae ? strjoin3(te, "\n", ae) : te ? TAKE_PTR(te) : TAKE_PTR(ae);
                stage_quarantine(j);
                j->ran = true;
                return;
        }
        rt = check_transcript(j, &cues, &te);
        ra = check_audio(j->audio, j->rate, &scan, &ae);
        if (rt >= 0 && ra >= 0 && (rt = story_check_length(cues, scan.frames * 1000 / j->rate, &why)) < 0)
                te = strjoin3(base_name(j->transcript), ": ", why);
        j->scan = scan;
        j->r = rt < 0 ? rt : ra;
        if (te && ae)
                j->error = strjoin3(te, "\n", ae);
        else if (te)
                j->error = TAKE_PTR(te);
        else
                j->error = TAKE_PTR(ae);
        if (j->r < 0)
                stage_quarantine(j);
        j->ran = true;
}

/* ---- events and timer (loop thread) ---------------------------------- */

static void dropbox_run(struct dropbox *b);

static void folder_scan(struct folder *f, uint64_t now) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;

        if (f->wd < 0)
                return;
        d = opendir(f->path);
        if (!d) {
                log_error_errno(errno, "Dropbox '%s': cannot read the folder: %m", f->path);
                return;
        }
        /* What is there now counts as complete; a writer still at work
         * makes it incomplete again with its next IN_MODIFY. */
        while ((de = readdir(d))) {
                struct stat st;

                if (fstatat(dirfd(d), de->d_name, &st, 0) >= 0 && S_ISREG(st.st_mode))
                        folder_file_event(f, de->d_name, IN_CLOSE_WRITE, now);
        }
}

static void dropbox_handle(struct dropbox *b, const struct inotify_event *ev, uint64_t now) {
        struct folder *f = NULL;

        if (ev->mask & IN_Q_OVERFLOW) {
                log_warning("Dropbox: inotify queue overflow, rescanning the folders");
                for (size_t i = 0; i < b->n_folders; i++)
                        folder_scan(&b->folders[i], now);
                return;
        }
        for (size_t i = 0; i < b->n_folders && !f; i++)
                if (b->folders[i].wd == ev->wd)
                        f = &b->folders[i];
        if (!f)
                return;
        if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
                log_error("Dropbox '%s': the folder was removed or moved, it is no longer watched", f->path);
                if (ev->mask & IN_MOVE_SELF)
                        inotify_rm_watch(b->inotify_fd, f->wd);
                f->wd = -1;
                return;
        }
        if (!(ev->mask & IN_ISDIR) && ev->len > 0)
                folder_file_event(f, ev->name, ev->mask, now);
}

/* Reads and applies every pending inotify event. */
static int dropbox_drain(struct dropbox *b) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        uint64_t now = now_usec();

        for (;;) {
                ssize_t n = read(b->inotify_fd, buf, sizeof buf);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errno == EAGAIN ? 0 : -errno;
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *)p;

                        dropbox_handle(b, ev, now);
                        p += sizeof *ev + ev->len;
                }
        }
}

static void pair_submit(struct folder *f, struct pair *p, enum dropbox_kind t) {
        struct check_job *j = calloc(1, sizeof *j);

        if (j) {
                j->folder = f;
                j->pair = p;
                j->transcript_kind = t;
                j->rate = f->box->rate;
                j->max_chars = f->box->max_chars;
                j->max_lines = f->box->max_lines;
                j->speaker_mark = strdup(f->box->speaker_mark);
                j->audio = strjoin3(f->path, "/", p->names[DROPBOX_AUDIO]);
                j->transcript = strjoin3(f->path, "/", p->names[t]);
                j->folder_path = strdup(f->path);
                j->quarantine = strdup(f->quarantine);
                j->stem = strdup(p->stem);
                for (int k = 0; k < _DROPBOX_KIND_MAX; k++)
                        if (p->names[k] && !(j->names[k] = strdup(p->names[k])))
                                j->stem = (free(j->stem), NULL);
        }
        if (!j || !j->audio || !j->transcript || !j->speaker_mark || !j->folder_path || !j->quarantine ||
            !j->stem || worker_submit(f->box->worker, check_work, j) < 0) {
                check_job_free(j);
                log_error("Dropbox '%s': cannot check '%s' (out of memory), it waits for its next change",
                          f->path, p->stem);
                return;
        }
        p->busy = true;
        p->dirty = false;
        log_debug("Dropbox '%s': checking '%s' + '%s'", f->path, p->names[DROPBOX_AUDIO], p->names[t]);
}

/* Looks at P once its settle time is over; else lowers *NEXT to its deadline. */
static void pair_settle(struct folder *f, struct pair *p, uint64_t now, uint64_t *next) {
        uint64_t deadline = p->last_usec + f->settle_usec;
        enum dropbox_kind t = pair_transcript(p);

        if (p->busy || p->settled)
                return;
        if (now < deadline) {
                *next = MIN(*next, deadline);
                return;
        }
        p->settled = true;
        if (!p->names[DROPBOX_AUDIO] || t == DROPBOX_OTHER)
                log_debug("Dropbox '%s': '%s' waits for its %s", f->path,
                          p->names[DROPBOX_AUDIO] ? p->names[DROPBOX_AUDIO] : p->names[t],
                          p->names[DROPBOX_AUDIO] ? "transcript" : "MP3");
        else if (!p->complete[DROPBOX_AUDIO] || !p->complete[t])
                log_debug("Dropbox '%s': '%s' is still open for writing", f->path, p->stem);
        else
                pair_submit(f, p, t);
}

/* Takes what has settled and arms the timer for the rest. */
static void dropbox_run(struct dropbox *b) {
        uint64_t now = now_usec(), next = UINT64_MAX;

        for (size_t i = 0; i < b->n_folders; i++)
                for (struct pair *p = b->folders[i].pairs; p; p = p->next)
                        pair_settle(&b->folders[i], p, now, &next);
        if (next == UINT64_MAX) {
                sd_event_source_set_enabled(b->timer_source, SD_EVENT_OFF);
                return;
        }
        sd_event_source_set_time(b->timer_source, next);
        sd_event_source_set_enabled(b->timer_source, SD_EVENT_ONESHOT);
}

/* Loop: the worker copied the story into the quarantine already: only
 * the originals go (quick unlinks). */
static void quarantine_staged(struct folder *f, struct pair *p, struct check_job *j) {
        _cleanup_free_ char *oneline = strdup(j->error ? j->error : strerror(-j->r));

        for (int k = 0; k < _DROPBOX_KIND_MAX; k++) {
                _cleanup_free_ char *from = NULL;

                if (!p->names[k])
                        continue;
                from = strjoin3(f->path, "/", p->names[k]);
                if (from && unlink(from) < 0 && errno != ENOENT)
                        log_warning_errno(errno, "Dropbox '%s': cannot remove '%s' after copying it: %m",
                                          f->path, from);
        }
        for (char *c = oneline; c && *c; c++)
                if (*c == '\n')
                        *c = ' ';
        log_warning("Dropbox '%s': quarantined '%s' in '%s' as '%s': %s", f->path, p->stem, f->quarantine,
                    j->staged_stem, oneline ? oneline : "refused");
}

static void check_done(void *p, void *userdata) {
        struct check_job *j = p;
        struct dropbox *b = userdata;
        struct folder *f = j->folder;
        struct pair *pr = j->pair;
        int r;

        if (!j->ran || b->stopping)
                goto finish; /* shutting down: the files stay for the next start */
        /* Events that came during the check decide whether its result holds. */
        r = dropbox_drain(b);
        if (r < 0)
                log_error_errno(r, "Dropbox: cannot read inotify events: %m");
        pr->busy = false;
        if (pr->dirty) {
                log_debug("Dropbox '%s': '%s' changed while being checked, it settles again", f->path,
                          pr->stem);
                unlink_all(j->staged, _DROPBOX_KIND_MAX + 1); /* copies of what changed */
                pr->dirty = false;
                if (pair_empty(pr))
                        pair_remove(f, pr);
        } else {
                if (j->r < 0 && j->staged[_DROPBOX_KIND_MAX])
                        quarantine_staged(f, pr, j);
                else if (j->r < 0)
                        folder_quarantine(f, pr, f->path, j->error ? j->error : strerror(-j->r));
                else
                        folder_accept(f, pr, j->transcript_kind, &j->scan);
                pair_remove(f, pr);
        }
        dropbox_run(b);
finish:
        check_job_free(j);
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct dropbox *b = userdata;
        int r;

        r = dropbox_drain(b);
        if (r < 0)
                log_error_errno(r, "Dropbox: cannot read inotify events: %m");
        dropbox_run(b);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        dropbox_run(userdata);
        return 0;
}

/* ---- set-up ---------------------------------------------------------- */

static void folder_done(struct folder *f) {
        while (f->pairs) {
                struct pair *p = f->pairs;

                f->pairs = p->next;
                pair_free(p);
        }
        free(f->path);
        free(f->accepted);
        free(f->quarantine);
}

static const char *position_text(int position, char *buf, size_t n) {
        if (position < 0)
                return "to the end of the queue";
        if (position == 0)
                return "next up";
        snprintf(buf, n, "to queue position %d", position);
        return buf;
}

/* A folder that cannot be watched is logged and stays idle (wd = -1):
 * the other folders and the air go on. */
static int folder_init(struct dropbox *b, const struct dropbox_config *c, struct folder *f) {
        char buf[48];
        int r;

        *f = (struct folder){
                .box = b,
                .position = c->position,
                .settle_usec = (uint64_t)MAX(c->settle_ms, 0) * 1000,
                .wd = -1,
        };
        f->path = strdup(c->path);
        f->accepted = strjoin3(c->path, "/", "accepted");
        f->quarantine = c->quarantine ? strdup(c->quarantine) : strjoin3(c->path, "/", "quarantine");
        if (!f->path || !f->accepted || !f->quarantine)
                return -ENOMEM;
        r = fileio_mkdir_p(f->path, 0755);
        if (r >= 0) {
                f->wd = inotify_add_watch(b->inotify_fd, f->path, WATCH_MASK);
                if (f->wd < 0)
                        r = -errno;
        }
        if (r < 0) {
                log_error_errno(r, "Dropbox '%s': cannot watch the folder: %m, ignoring it", f->path);
                return 0;
        }
        log_info("Dropbox '%s': watching, stories go %s after %d ms of quiet", f->path,
                 position_text(f->position, buf, sizeof buf), c->settle_ms);
        return 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct dropbox *, dropbox_free);

int dropbox_new(sd_event *e, const struct dropbox_config *configs, size_t n, long rate,
                const struct segment_opts *seg, dropbox_take_t take, void *userdata, struct dropbox **ret) {
        _cleanup_(dropbox_freep) struct dropbox *b = NULL;
        int r;

        b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        b->inotify_fd = -1;
        b->rate = rate;
        b->max_chars = seg->max_chars;
        b->max_lines = seg->max_lines;
        b->speaker_mark = strdup(seg->speaker_mark ? seg->speaker_mark : "");
        if (!b->speaker_mark)
                return -ENOMEM;
        b->take = take;
        b->userdata = userdata;
        b->folders = calloc(n ? n : 1, sizeof *b->folders);
        if (!b->folders)
                return -ENOMEM;
        b->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (b->inotify_fd < 0)
                return -errno;
        r = sd_event_add_io(e, &b->io_source, b->inotify_fd, EPOLLIN, on_inotify, b);
        if (r < 0)
                return r;
        r = sd_event_add_time(e, &b->timer_source, CLOCK_MONOTONIC, 0, 1000, on_timer, b);
        if (r < 0)
                return r;
        sd_event_source_set_enabled(b->timer_source, SD_EVENT_OFF);
        r = worker_new(e, check_done, b, &b->worker);
        if (r < 0)
                return r;
        /* Watch first, then scan: a file arriving in between is seen twice, never missed. */
        for (; b->n_folders < n; b->n_folders++) {
                r = folder_init(b, &configs[b->n_folders], &b->folders[b->n_folders]);
                if (r < 0) {
                        b->n_folders++; /* half-built: folder_done frees it */
                        return r;
                }
        }
        for (size_t i = 0; i < b->n_folders; i++)
                folder_scan(&b->folders[i], now_usec());
        dropbox_run(b);
        *ret = TAKE_PTR(b);
        return 0;
}

struct dropbox *dropbox_free(struct dropbox *b) {
        if (!b)
                return NULL;
        /* done() for a finished check must not move files now. */
        b->stopping = true;
        worker_free(b->worker);
        sd_event_source_disable_unref(b->io_source);
        sd_event_source_disable_unref(b->timer_source);
        closep(&b->inotify_fd);
        for (size_t i = 0; i < b->n_folders; i++)
                folder_done(&b->folders[i]);
        free(b->folders);
        free(b->speaker_mark);
        free(b);
        return NULL;
}
