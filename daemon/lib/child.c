/* SPDX-License-Identifier: GPL-3.0-or-later */
/* child.c: a contained helper process (see child.h).
 *
 * DESIGN: the caller (a worker thread) forks; between fork and exec the
 * child only makes async-signal-safe calls, because the daemon has other
 * threads whose locks may be held at the fork. The parent then polls three
 * fds: the stdout pipe (read into a growing buffer so the child never
 * blocks on a full pipe), a pidfd (readable once the child has exited)
 * and the optional cancel fd. On timeout, cancel or too much output the
 * whole process group gets SIGKILL; in every case the group is killed
 * before the leader is reaped, so a grandchild cannot outlive it and the
 * group id cannot have been reused. PR_SET_PDEATHSIG fires when the
 * *thread* that forked ends: the worker thread lives as long as the daemon,
 * and a daemon killed with SIGKILL takes its helpers with it. */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

/* Sanitizer builds reserve terabytes of address space for their shadow
 * memory: an RLIMIT_AS would stop the helper before main(). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CHILD_NO_AS_LIMIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CHILD_NO_AS_LIMIT 1
#endif
#endif

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* In the forked child: async-signal-safe calls only; never returns. */
static void __attribute__((noreturn))
child_exec(char *const argv[], const struct child_limits *lim, int out_fd, pid_t parent) {
        sigset_t none;
        int null_fd;

        for (int sig = 1; sig < NSIG; sig++)
                (void)signal(sig, SIG_DFL); /* EINVAL for SIGKILL/SIGSTOP and the RT gap */
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        (void)setpgid(0, 0);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(127); /* the daemon is already gone */
        if (lim->cpu_s > 0) {
                /* SIGXCPU at the soft limit, SIGKILL one second later. */
                struct rlimit rl = {.rlim_cur = lim->cpu_s, .rlim_max = lim->cpu_s + 1};
                if (setrlimit(RLIMIT_CPU, &rl) < 0)
                        _exit(127);
        }
#ifndef CHILD_NO_AS_LIMIT
        if (lim->as_bytes > 0) {
                struct rlimit rl = {.rlim_cur = lim->as_bytes, .rlim_max = lim->as_bytes};
                if (setrlimit(RLIMIT_AS, &rl) < 0)
                        _exit(127);
        }
#endif
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0)
                _exit(127);
        (void)close_range(3, UINT_MAX, 0);
        execv(argv[0], argv);
        _exit(127);
}

/* Appends what the pipe holds to *BUF. 1 at EOF, 0 when drained for now,
 * -EFBIG past MAX, other -errno. */
static int read_some(int fd, char **buf, size_t *len, size_t *cap, size_t max) {
        for (;;) {
                ssize_t n;

                if (*cap - *len < 4096 + 1) {
                        size_t ncap = *cap ? *cap * 2 : 16384;
                        char *p;

                        if (*len > max)
                                return -EFBIG;
                        p = realloc(*buf, ncap);
                        if (!p)
                                return -ENOMEM;
                        *buf = p;
                        *cap = ncap;
                }
                n = read(fd, *buf + *len, *cap - *len - 1);
                if (n == 0)
                        return 1;
                if (n < 0)
                        return errno == EAGAIN  ? 0
                               : errno == EINTR ? read_some(fd, buf, len, cap, max)
                                                : -errno;
                *len += (size_t)n;
                if (*len > max)
                        return -EFBIG;
        }
}

/* Polls until the child exits (0), the deadline (-ETIMEDOUT), a cancel
 * (-ECANCELED) or an output error. Reads stdout meanwhile. */
static int child_wait(int pidfd, int out_fd, int cancel_fd, uint64_t deadline,
                      const struct child_limits *lim, char **buf, size_t *len, size_t *cap) {
        bool eof = false;

        for (;;) {
                struct pollfd p[3] = {
                        {.fd = pidfd, .events = POLLIN},
                        {.fd = eof ? -1 : out_fd, .events = POLLIN},
                        {.fd = cancel_fd, .events = POLLIN},
                };
                uint64_t now = now_ms();
                int r;

                if (now >= deadline)
                        return -ETIMEDOUT;
                r = poll(p, 3, (int)(deadline - now > INT_MAX ? INT_MAX : deadline - now));
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r <= 0)
                        continue;
                if (p[1].revents) {
                        r = read_some(out_fd, buf, len, cap, lim->max_output);
                        if (r < 0)
                                return r;
                        eof = r > 0;
                }
                if (p[2].revents)
                        return -ECANCELED;
                if (p[0].revents) {
                        /* Exited: what it wrote is in the pipe already. */
                        r = eof ? 0 : read_some(out_fd, buf, len, cap, lim->max_output);
                        return r < 0 ? r : 0;
                }
        }
}

int child_run(char *const argv[], const struct child_limits *lim, int cancel_fd, int *ret_status,
              char **ret_out, size_t *ret_len) {
        _cleanup_close_ int pidfd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;
        pid_t parent = getpid(), pid;
        int fds[2], status, r;
        uint64_t deadline;

        if (!argv || !argv[0] || !lim || lim->timeout_ms == 0 || !ret_status || !ret_out)
                return -EINVAL;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        deadline = now_ms() + lim->timeout_ms;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        if (pid == 0)
                child_exec(argv, lim, fds[1], parent);
        close(fds[1]);
        (void)setpgid(pid, pid); /* both sides set it: no window without a group */
        (void)fcntl(fds[0], F_SETFL, O_NONBLOCK);
        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0) {
                r = -errno;
                (void)kill(pid, SIGKILL);
        } else
                r = child_wait(pidfd, fds[0], cancel_fd, deadline, lim, &buf, &len, &cap);
        close(fds[0]);
        /* Leader not reaped yet, so its pid is still its group's id. */
        (void)kill(-pid, SIGKILL);
        if (r < 0)
                (void)kill(pid, SIGKILL); /* in case setpgid lost a race with exec */
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return r < 0 ? r : -errno;
        if (r < 0)
                return r;
        if (!buf && !(buf = strdup("")))
                return -ENOMEM;
        buf[len] = 0;
        *ret_status = status;
        if (ret_len)
                *ret_len = len;
        *ret_out = TAKE_PTR(buf);
        return 0;
}
