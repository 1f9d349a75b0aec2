/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-outlink: the way out of the RDS sink never blocks and never grows.
 * An encoder that accepts but never reads: sends keep returning at once,
 * then one is refused with -ENOBUFS (the buffer is bounded), the link
 * drops the connection and makes a new one by itself. A FIFO with no
 * reader: -ENOTCONN, nothing waits; a reader that stops reading: -ENOBUFS
 * once the pipe is full. A regular file holds the latest message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "outlink.h"

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void run_loop(sd_event *e, int ms) {
        uint64_t end = now_ms() + (uint64_t)ms;

        while (now_ms() < end)
                assert_true(sd_event_run(e, 10000) >= 0);
}

static int connects;
static void on_connect(void *userdata) {
        connects++;
}

static void test_tcp_never_reads(void **state) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        int lfd, small = 4096, peer = -1, peer2 = -1, r = 0;
        char target[64], msg[1000];
        struct outlink *l;
        sd_event *e;
        size_t sent = 0;

        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(lfd >= 0);
        assert_int_equal(setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
        assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(listen(lfd, 4), 0);
        assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
        snprintf(target, sizeof target, "127.0.0.1:%u", ntohs(a.sin_port));
        assert_int_equal(sd_event_new(&e), 0);
        connects = 0;
        assert_int_equal(outlink_new(e, OUTLINK_TCP, target, 0, "test", on_connect, NULL, &l), 0);
        run_loop(e, 100);
        assert_int_equal(connects, 1);
        peer = accept(lfd, NULL, NULL); /* accepted, never read */
        assert_true(peer >= 0);

        memset(msg, 'x', sizeof msg);
        for (int i = 0; i < 100000 && r == 0; i++) {
                uint64_t t0 = now_ms();

                r = outlink_send(l, msg, sizeof msg);
                assert_true(now_ms() - t0 < 50); /* never waits for the peer */
                if (r == 0)
                        sent += sizeof msg;
        }
        assert_int_equal(r, -ENOBUFS);
        assert_int_equal(outlink_dropped(l), 1);
        /* down now: more sends are dropped at once */
        assert_int_equal(outlink_send(l, msg, sizeof msg), -ENOTCONN);
        /* and it comes back by itself after the backoff (1 s) */
        run_loop(e, 1500);
        assert_int_equal(connects, 2);
        peer2 = accept(lfd, NULL, NULL);
        assert_true(peer2 >= 0);
        assert_int_equal(outlink_send(l, "hello", 5), 0);
        run_loop(e, 50);
        {
                char buf[8] = {0};

                assert_int_equal(recv(peer2, buf, sizeof buf, MSG_DONTWAIT), 5);
                assert_string_equal(buf, "hello");
        }
        outlink_free(l);
        sd_event_unref(e);
        close(peer);
        close(peer2);
        close(lfd);
        print_message("sent %zu bytes before the bound\n", sent);
}

static void test_refused(void **state) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        char target[64];
        struct outlink *l;
        sd_event *e;

        /* a port nobody listens on: bound, then closed */
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
        close(fd);
        snprintf(target, sizeof target, "127.0.0.1:%u", ntohs(a.sin_port));
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(outlink_new(e, OUTLINK_TCP, target, 0, "test", NULL, NULL, &l), 0);
        run_loop(e, 100);
        assert_int_equal(outlink_send(l, "x", 1), -ENOTCONN);
        outlink_free(l);
        sd_event_unref(e);
        assert_int_equal(outlink_new(e = NULL, OUTLINK_TCP, target, 0, "test", NULL, NULL, &l), -EINVAL);
}

static void test_fifo(void **state) {
        char dir[] = "/tmp/test-outlink-XXXXXX", path[64], msg[512];
        struct outlink *l;
        sd_event *e;
        int rfd, r = 0, n = 0;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/fifo", dir);
        assert_int_equal(mkfifo(path, 0600), 0);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(outlink_new(e, OUTLINK_PATH, path, 0, "test", NULL, NULL, &l), 0);
        /* no reader: dropped, at once */
        assert_int_equal(outlink_send(l, "RT a\n", 5), -ENOTCONN);
        assert_int_equal(outlink_send(l, "RT b\n", 5), -ENOTCONN);
        rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        assert_true(rfd >= 0);
        assert_int_equal(outlink_send(l, "RT c\n", 5), 0);
        {
                char buf[16] = {0};

                assert_int_equal(read(rfd, buf, sizeof buf), 5);
                assert_string_equal(buf, "RT c\n");
        }
        /* a reader that stops reading: the pipe fills, then -ENOBUFS */
        memset(msg, 'x', sizeof msg);
        msg[sizeof msg - 1] = '\n';
        for (; n < 10000 && r == 0; n++)
                r = outlink_send(l, msg, sizeof msg);
        assert_int_equal(r, -ENOBUFS);
        assert_true(n > 10);
        close(rfd);
        /* the reader went away: the write fails (EPIPE), and the next
         * message finds no reader */
        assert_true(outlink_send(l, "RT d\n", 5) < 0);
        assert_int_equal(outlink_send(l, "RT e\n", 5), -ENOTCONN);
        outlink_free(l);

        /* a regular file holds the latest message */
        snprintf(path, sizeof path, "%s/rt.txt", dir);
        close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
        assert_int_equal(outlink_new(e, OUTLINK_PATH, path, 0, "test", NULL, NULL, &l), 0);
        assert_int_equal(outlink_send(l, "a longer first text\n", 20), 0);
        assert_int_equal(outlink_send(l, "second\n", 7), 0);
        {
                char buf[64] = {0};
                int fd = open(path, O_RDONLY | O_CLOEXEC);

                assert_int_equal(read(fd, buf, sizeof buf), 7);
                assert_string_equal(buf, "second\n");
                close(fd);
        }
        outlink_free(l);
        sd_event_unref(e);
        unlink(path);
        snprintf(path, sizeof path, "%s/fifo", dir);
        unlink(path);
        rmdir(dir);
}

int main(void) {
        /* as nextupd does: a write to a pipe whose reader left is EPIPE */
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tcp_never_reads),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_fifo),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
