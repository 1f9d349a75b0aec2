/* SPDX-License-Identifier: GPL-3.0-or-later */
/* main.c: nextupd's entry point. argv, the -n configuration test, the
 * library init order (signals blocked and mpg123/libao initialised before
 * any thread starts) and the exit code. */
#include <getopt.h>
#include <mpg123.h>
#include <ao/ao.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "manager.h"
#include "output.h"

#ifndef NEXTUP_DEFAULT_CONFIG
#define NEXTUP_DEFAULT_CONFIG "/etc/nextup/nextupd.conf"
#endif
#define DEFAULT_CONFIG NEXTUP_DEFAULT_CONFIG

static void help(void) {
        printf("Usage: nextupd [-c FILE] [-n] [--exit-idle]\n"
               "Radio playout and live-captioning daemon.\n\n"
               "  -c, --config FILE  configuration file (default " DEFAULT_CONFIG ")\n"
               "  -n, --check        check the configuration and exit\n"
               "      --exit-idle    exit once nothing is on air or queued\n"
               "  -h, --help         this help\n"
               "  -V, --version      print the version\n\n"
               "Exit status: 0 clean stop, 1 configuration error or failure to start,\n"
               "2 usage error.\n");
}

/* A usage error, as nextupctl and nextup-caption exit: 2, with the hint. */
static int usage_error(void) {
        fprintf(stderr, "Try 'nextupd --help'.\n");
        return 2;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, 'n'},
                {"exit-idle", no_argument, NULL, 'x'},    {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},      {}};
        const char *path = DEFAULT_CONFIG;
        bool check = false, exit_idle = false;
        struct nextup_config *config = NULL;
        struct manager *m = NULL;
        sigset_t mask;
        int c, r;

        while ((c = getopt_long(argc, argv, "c:nhV", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        path = optarg;
                        break;
                case 'n':
                        check = true;
                        break;
                case 'x':
                        exit_idle = true;
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case 'V':
                        printf("nextupd " NEXTUP_VERSION "\n");
                        return EXIT_SUCCESS;
                default:
                        return usage_error();
                }
        if (optind < argc) {
                fprintf(stderr, "nextupd: unexpected argument '%s'\n", argv[optind]);
                return usage_error();
        }

        /* libao first, so that the configuration check knows its drivers;
         * libasound's messages go to our log before libao loads it. */
        output_log_alsa();
        ao_initialize();
        r = config_load(path, stderr, &config);
        if (r < 0) {
                ao_shutdown();
                return EXIT_FAILURE;
        }
        if (check) {
                printf("configuration OK\n");
                config_free(config);
                ao_shutdown();
                return EXIT_SUCCESS;
        }
        log_set_max_level(config->log_level);

        /* Signals are taken by sd-event; block them before any thread
         * exists so every thread inherits the mask. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        r = mpg123_init();
        if (r != MPG123_OK) {
                log_error("Failed to initialise libmpg123: %s", mpg123_plain_strerror(r));
                config_free(config);
                ao_shutdown();
                return EXIT_FAILURE;
        }

        r = manager_new(config, exit_idle, &m);
        if (r >= 0)
                r = manager_run(m);
        else
                log_error_errno(r, "Failed to start: %m");
        manager_free(m);

        ao_shutdown();
        mpg123_exit();
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
