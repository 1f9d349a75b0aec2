/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-netaddr.c: listen and connect addresses as the config writes them. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netaddr.h"

static void test_ipv4(void **state) {
        struct netaddr a;
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a.sa;

        assert_int_equal(netaddr_parse("127.0.0.1:8080", &a), 0);
        assert_int_equal(in->sin_family, AF_INET);
        assert_int_equal(ntohs(in->sin_port), 8080);
        assert_int_equal(ntohl(in->sin_addr.s_addr), 0x7f000001);
        assert_int_equal(a.len, sizeof *in);
}

static void test_ipv6_and_wildcard(void **state) {
        struct netaddr a;
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a.sa;

        assert_int_equal(netaddr_parse("[::1]:8081", &a), 0);
        assert_int_equal(in6->sin6_family, AF_INET6);
        assert_int_equal(ntohs(in6->sin6_port), 8081);
        assert_true(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
        assert_int_equal(netaddr_parse("*:9000", &a), 0);
        assert_int_equal(in6->sin6_family, AF_INET6);
        assert_true(IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr));
        assert_int_equal(ntohs(in6->sin6_port), 9000);
}

static void test_bad(void **state) {
        static const char *const bad[] = {
                "",
                "8080",
                "localhost:8080",
                "127.0.0.1",
                "127.0.0.1:",
                "127.0.0.1:0",
                "127.0.0.1:65536",
                "127.0.0.1:80x",
                "::1:8080",
                "[::1]8080",
                "[127.0.0.1]:80",
                "[*]:80",
                "1.2.3:80",
                "127.0.0.1:-1",
                ":80",
        };
        struct netaddr a = {.len = 42};

        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                char *host = NULL, *port = NULL;

                assert_int_equal(netaddr_parse(bad[i], &a), -EINVAL);
                assert_int_equal(netaddr_parse_connect(bad[i], &a), -EINVAL);
                assert_int_equal(a.len, 42); /* untouched on failure */
                assert_int_equal(netaddr_split(bad[i], &host, &port), -EINVAL);
                assert_null(host);
                assert_null(port);
        }
        assert_int_equal(netaddr_parse(NULL, &a), -EINVAL);
        assert_int_equal(netaddr_parse_connect(NULL, &a), -EINVAL);
}

/* A connect address is the listen syntax without the wildcard. */
static void test_connect(void **state) {
        struct netaddr a = {.len = 42};
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a.sa;

        assert_int_equal(netaddr_parse_connect("*:9000", &a), -EINVAL);
        assert_int_equal(a.len, 42);
        assert_int_equal(netaddr_parse_connect("[::1]:5000", &a), 0);
        assert_int_equal(in6->sin6_family, AF_INET6);
        assert_int_equal(ntohs(in6->sin6_port), 5000);
        assert_int_equal(netaddr_parse_connect("10.0.0.2:5000", &a), 0);
        assert_int_equal(a.sa.ss_family, AF_INET);
}

/* The text of host and port, for getaddrinfo and a Host line. */
static void test_split(void **state) {
        char *host = NULL, *port = NULL;

        assert_int_equal(netaddr_split("127.0.0.1:5000", &host, &port), 0);
        assert_string_equal(host, "127.0.0.1");
        assert_string_equal(port, "5000");
        free(host);
        free(port);
        assert_int_equal(netaddr_split("[::1]:80", &host, &port), 0);
        assert_string_equal(host, "::1");
        assert_string_equal(port, "80");
        free(host);
        free(port);
        host = port = NULL;
        assert_int_equal(netaddr_split("*:80", &host, &port), -EINVAL);
        assert_null(host);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ipv4),  cmocka_unit_test(test_ipv6_and_wildcard),
                cmocka_unit_test(test_bad),   cmocka_unit_test(test_connect),
                cmocka_unit_test(test_split),
        };

        return cmocka_run_group_tests_name("netaddr", tests, NULL, NULL);
}
