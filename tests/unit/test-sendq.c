/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-sendq.c: a send queue on a real socket pair with small buffers:
 * bytes go straight out while the peer reads, the rest waits in order up
 * to the limit (-ENOBUFS past it, nothing of the refused send kept), a
 * flush after the peer reads delivers it all and frees the buffer, and a
 * peer that left is -EPIPE, not a SIGPIPE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sendq.h"

#define LIMIT 4096

static void small_pair(int sv[2]) {
        int small = 1024;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
        assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
}

/* Everything the peer can read now, appended to GOT. */
static size_t drain(int fd, uint8_t *got, size_t have, size_t cap) {
        ssize_t n;

        while (have < cap && (n = recv(fd, got + have, cap - have, MSG_DONTWAIT)) > 0)
                have += (size_t)n;
        return have;
}

static void test_straight_out(void **state) {
        struct sendq q = {0};
        char got[16];
        int sv[2];

        small_pair(sv);
        assert_int_equal(sendq_send(&q, sv[0], "hello\n", 6, LIMIT), 0);
        assert_false(sendq_pending(&q));
        assert_null(q.buf); /* nothing waits: no buffer */
        assert_int_equal(recv(sv[1], got, sizeof got, MSG_DONTWAIT), 6);
        assert_memory_equal(got, "hello\n", 6);
        close(sv[0]);
        close(sv[1]);
}

static void test_waits_in_order_then_flushes(void **state) {
        static uint8_t sent[64 * 1024], got[64 * 1024];
        struct sendq q = {0};
        size_t n_sent = 0, n_got = 0;
        int sv[2], r = 0;

        for (size_t i = 0; i < sizeof sent; i++)
                sent[i] = (uint8_t)(i * 7 + i / 251);
        small_pair(sv);
        /* 100-byte lines until the limit refuses one: the peer does not read. */
        while ((r = sendq_send(&q, sv[0], sent + n_sent, 100, LIMIT)) == 0)
                n_sent += 100;
        assert_int_equal(r, -ENOBUFS);
        assert_true(sendq_pending(&q));
        assert_true(q.len <= LIMIT && q.len > LIMIT - 100);
        /* The peer reads; each flush moves more; all of it arrives in order. */
        for (int i = 0; i < 1000 && (sendq_pending(&q) || n_got < n_sent); i++) {
                n_got = drain(sv[1], got, n_got, sizeof got);
                assert_int_equal(sendq_flush(&q, sv[0]), 0);
        }
        n_got = drain(sv[1], got, n_got, sizeof got);
        assert_int_equal(n_got, n_sent); /* the refused line is not half-sent */
        assert_memory_equal(got, sent, n_sent);
        assert_false(sendq_pending(&q));
        assert_null(q.buf); /* caught up: the buffer is freed */
        close(sv[0]);
        close(sv[1]);
}

static void test_peer_gone(void **state) {
        struct sendq q = {0};
        int sv[2];

        small_pair(sv);
        close(sv[1]);
        assert_int_equal(sendq_send(&q, sv[0], "x\n", 2, LIMIT), -EPIPE); /* MSG_NOSIGNAL: no SIGPIPE */
        sendq_clear(&q);
        close(sv[0]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_straight_out),
                cmocka_unit_test(test_waits_in_order_then_flushes),
                cmocka_unit_test(test_peer_gone),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
