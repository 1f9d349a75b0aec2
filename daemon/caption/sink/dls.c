/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dls.c: the DAB+ dynamic label, as the text file ODR-PadEnc reads
 * (--dls=FILE) and re-reads on its own schedule. While a story is on air
 * the label is its title, followed by " - Next: TITLE" when something is
 * queued and it fits; between stories "Next: TITLE". With dl_plus the
 * file starts with ODR-PadEnc's parameter block carrying DL Plus tags
 * (ETSI TS 102 980): ITEM.TITLE on the title, PROGRAMME.NEXT on what is
 * next, the item toggle flipped per story and the running bit set while
 * one is on air. The toggle is read back from the file when the sink is
 * made, so that it still flips across a reload or a restart.
 *
 * A label is at most 128 bytes on air, in the same EBU Latin set as RDS:
 * the text is mapped to that set first (so one character is one byte on
 * air and the DL Plus positions count right) and written back as UTF-8,
 * which ODR-PadEnc converts. The file is replaced atomically (written
 * beside it, then renamed over it) so the encoder never reads half a
 * label; no fsync, because a label is worth nothing after a crash and the
 * loop must not wait for the disk. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "queue.h"
#include "rdstext.h"
#include "sink.h"

struct dls {
        char *path, *tmp;
        bool dl_plus;
        char *title, *next; /* RDS-set text, or NULL */
        bool on_air, toggle;
};

/* Appends a tag line for SUBSTRING [START, START+LEN) characters. */
static void tag(FILE *f, int type, size_t start, size_t len) {
        if (len > 0)
                fprintf(f, "DL_PLUS_TAG=%d %zu %zu\n", type, start, len - 1); /* length marker: len - 1 */
}

/* The label in the RDS set (<= 128 characters) and where its parts are. */
static size_t compose(const struct dls *d, char *out, size_t *ret_title_len, size_t *ret_next_start,
                      size_t *ret_next_len) {
        static const char sep[] = " - Next: ", lone[] = "Next: ";
        size_t n = 0;

        *ret_title_len = *ret_next_start = *ret_next_len = 0;
        if (d->on_air && d->title) {
                n = rds_text_cut(d->title, DLS_MAX, NULL);
                memcpy(out, d->title, n);
                *ret_title_len = n;
        }
        if (d->next) {
                const char *pre = n > 0 ? sep : lone;
                size_t room = DLS_MAX - n, plen = strlen(pre), k;

                if (room > plen + 3) {
                        k = rds_text_cut(d->next, room - plen, NULL);
                        /* all of the next title, or none of it beside a title */
                        if (k == strlen(d->next) || n == 0) {
                                memcpy(out + n, pre, plen);
                                memcpy(out + n + plen, d->next, k);
                                *ret_next_start = n + plen;
                                *ret_next_len = k;
                                n += plen + k;
                        }
                }
        }
        out[n] = '\0';
        return n;
}

static int dls_write(struct dls *d) {
        _cleanup_free_ char *body = NULL, *utf8 = NULL;
        char label[DLS_MAX + 1];
        size_t size = 0, title_len, next_start, next_len;
        _cleanup_close_ int fd = -1;
        FILE *f;
        int r = 0;

        compose(d, label, &title_len, &next_start, &next_len);
        utf8 = rds_text_to_utf8(label);
        f = open_memstream(&body, &size);
        if (!utf8 || !f) {
                if (f)
                        fclose(f);
                return -ENOMEM;
        }
        if (d->dl_plus) {
                fputs("##### parameters { #####\nDL_PLUS=1\n", f);
                fprintf(f, "DL_PLUS_ITEM_TOGGLE=%d\nDL_PLUS_ITEM_RUNNING=%d\n", d->toggle, d->on_air);
                tag(f, RTPLUS_ITEM_TITLE, 0, title_len);
                tag(f, RTPLUS_PROGRAMME_NEXT, next_start, next_len);
                fputs("##### parameters } #####\n", f);
        }
        fprintf(f, "%s\n", utf8);
        if (fclose(f) != 0)
                return -ENOMEM;

        fd = open(d->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
        if (fd < 0)
                return -errno;
        if (write(fd, body, size) != (ssize_t)size)
                r = errno > 0 ? -errno : -EIO;
        if (r >= 0 && rename(d->tmp, d->path) < 0)
                r = -errno;
        if (r < 0)
                (void)unlink(d->tmp);
        return r;
}

/* The item toggle the file carries now, so that the next story flips it
 * even when this sink is new (a reload, a restart). */
static bool read_toggle(const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[128];

        while (f && fgets(line, sizeof line, f))
                if (strncmp(line, "DL_PLUS_ITEM_TOGGLE=", 20) == 0)
                        return line[20] == '1';
        return false;
}

static int check_writable(struct dls *d) {
        int fd = open(d->tmp, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);

        if (fd < 0)
                return -errno;
        close(fd);
        (void)unlink(d->tmp);
        return 0;
}

static int set_text(struct dls *d, char **dst, const char *utf8) {
        char *t = NULL;

        if (utf8) {
                t = rds_text_encode(utf8, false);
                if (!t)
                        return -ENOMEM;
        }
        free(*dst);
        *dst = t;
        return 0;
}

static int dls_story_start(struct sink *s, const struct story *st) {
        struct dls *d = s->data;
        int r;

        r = set_text(d, &d->title, st->title && *st->title ? st->title : "(untitled)");
        if (r < 0)
                return r;
        d->on_air = true;
        d->toggle = !d->toggle;
        return dls_write(d);
}

static int dls_cue(struct sink *s, const struct story *st, const struct cue *c, const struct cue_emit *e) {
        return 0;
}

static int dls_story_end(struct sink *s, const struct story *st) {
        struct dls *d = s->data;

        d->on_air = false;
        return dls_write(d);
}

static int dls_next_up(struct sink *s, const struct story *next, uint64_t mono_ns) {
        struct dls *d = s->data;
        int r;

        r = set_text(d, &d->next, next ? (next->title && *next->title ? next->title : "(untitled)") : NULL);
        if (r < 0)
                return r;
        return dls_write(d);
}

static void dls_free(struct sink *s) {
        struct dls *d = s->data;

        if (!d)
                return;
        free(d->path);
        free(d->tmp);
        free(d->title);
        free(d->next);
        free(d);
}

static const struct sink_ops dls_ops = {
        .type = "dls",
        .story_start = dls_story_start,
        .cue = dls_cue,
        .story_end = dls_story_end,
        .free = dls_free,
        .next_up = dls_next_up,
};

int sink_dls_new(const struct sink_config *sc, struct sink **ret) {
        _cleanup_free_ char *name = NULL;
        struct dls *d;
        int r;

        if (!sc->path)
                return -EINVAL;
        d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        d->dl_plus = sc->dl_plus;
        d->path = strdup(sc->path);
        if (!d->path || asprintf(&d->tmp, "%s.tmp", sc->path) < 0) {
                d->tmp = NULL; /* undefined after a failure */
                dls_free(&(struct sink){.data = d});
                return -ENOMEM;
        }
        if (asprintf(&name, "dls:'%s'", sc->path) < 0) {
                name = NULL;
                dls_free(&(struct sink){.data = d});
                return -ENOMEM;
        }
        /* a wrong folder shows now, not at the first story; the label
         * itself is left alone (after a reload the old sink still owns
         * it until the story on air ends) */
        d->toggle = read_toggle(d->path);
        r = check_writable(d);
        if (r >= 0)
                r = sink_alloc(&dls_ops, name, sc, d, ret);
        if (r < 0)
                dls_free(&(struct sink){.data = d});
        return r;
}
