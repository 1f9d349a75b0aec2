/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nextupctl-help.c: per-command help, see nextupctl-help.h. One table of
 * every command's synopsis and description; the commands themselves parse
 * their arguments in nextupctl.c, nextupctl-events.c and
 * nextupctl-schedule.c. */
#include "nextupctl-help.h"

#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "nextupctl-calibrate.h"

#define EXIT_USAGE 2

struct command_help {
        const char *name;
        const char *synopsis; /* after "nextupctl [-s SOCKET] [--json] " */
        const char *text;
};

static const struct command_help commands[] = {
        {"add", "add AUDIO TRANSCRIPT",
         "Queues a story at the end of Next Up. AUDIO is an MP3, WAV or FLAC file, TRANSCRIPT its\n"
         "plain-text transcript; relative paths are made absolute here. Prints the story's id."},
        {"insert", "insert [--next | --at N] AUDIO TRANSCRIPT",
         "Queues a story at position N of Next Up (0, or --next, makes it next up)."},
        {"remove", "remove ID", "Drops a queued story."},
        {"move", "move ID POSITION", "Moves a queued story to POSITION (0 is next up)."},
        {"list", "list", "Shows what is on air and the queue, with ids and lengths."},
        {"status", "status",
         "Shows the player state: what is on air and next up, the queue and when it ends, the\n"
         "output and whether it is up, the last alert, the daemon's version and uptime."},
        {"skip", "skip", "Ends the story on air (with a fade); the next one starts."},
        {"pause", "pause", "Pauses the air: the output plays silence, captions hold."},
        {"resume", "resume", "Resumes after pause."},
        {"clear", "clear", "Empties the queue (what is on air plays on)."},
        {"reopen", "reopen",
         "Makes the caption sinks reopen their files (logrotate's postrotate runs it); SIGHUP does\n"
         "it too."},
        {"asrun", "asrun [--since WHEN] [--until WHEN] [--csv]",
         "What aired, from the as-run log, as a table (or RFC 4180 CSV with --csv, raw JSON with\n"
         "--json). WHEN: 2026-11-27T10:00, '2026-11-27 10:00:00', a Z or +01:00 suffix, 10:00\n"
         "(today), -30m, -1h, -2d or epoch milliseconds."},
        {"subscribe", "subscribe",
         "Prints events as they happen (next up, on and off air, queue changes, alerts) until\n"
         "interrupted; --json prints them raw."},
        {"events", "events", "The same as subscribe."},
        {"at", "at TIME [--hard | --soft | --wait S] [--name NAME] AUDIO TRANSCRIPT",
         "Plays a story at TIME: HH:MM[:SS] today or YYYY-MM-DDTHH:MM[:SS], local time. --hard cuts\n"
         "what plays at TIME; --soft (default) makes it next up at TIME; --wait S is soft unless\n"
         "that would start it more than S seconds late, then hard."},
        {"schedule", "schedule", "Lists the clock events (configured and one-off), next first."},
        {"unschedule", "unschedule ID", "Drops a one-off clock event made with 'at'."},
        {"calibrate",
         "calibrate [--source NAME [--server ADDR] | --record CMD] [--marker FILE] [--rate HZ]\n"
         "          [--channels N] [--timeout S]",
         "Measures the output latency; see 'nextupctl calibrate --help'."},
        {"help", "help [COMMAND]", "Prints the help, or the usage of COMMAND."},
};

static const struct command_help *find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(commands[i].name, name) == 0)
                        return &commands[i];
        return NULL;
}

/* The command word: the first operand, after the global options. */
static int command_index(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--socket") == 0) {
                        i++;
                        continue;
                }
                if (argv[i][0] != '-' || argv[i][1] == '\0')
                        return i;
        }
        return -1;
}

bool help_wanted(int argc, char **argv) {
        int c = command_index(argc, argv);

        if (c < 0)
                return false;
        if (strcmp(argv[c], "help") == 0)
                return true;
        if (!find(argv[c]) || strcmp(argv[c], "calibrate") == 0)
                return false;
        for (int i = c + 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
                        return true;
        return false;
}

static void print_command(const struct command_help *h) {
        printf("Usage: nextupctl [-s SOCKET] [--json] %s\n\n%s\n\n"
               "Exit status: 0 ok, 1 the daemon refused (the reason on stderr), 2 usage error or\n"
               "daemon unreachable.\n",
               h->synopsis, h->text);
}

int help_main(int argc, char **argv, void (*global_usage)(FILE *f)) {
        int c = command_index(argc, argv);
        const char *name = argv[c];
        const struct command_help *h;

        if (strcmp(name, "help") == 0) {
                if (c + 1 >= argc) {
                        global_usage(stdout);
                        return EXIT_SUCCESS;
                }
                name = argv[c + 1][0] == '-' ? "help" : argv[c + 1]; /* help --help */
        }
        if (strcmp(name, "calibrate") == 0) {
                calibrate_help();
                return EXIT_SUCCESS;
        }
        h = find(name);
        if (!h) {
                fprintf(stderr, "nextupctl: unknown command '%s'\nTry 'nextupctl --help'.\n", name);
                return EXIT_USAGE;
        }
        print_command(h);
        return EXIT_SUCCESS;
}
