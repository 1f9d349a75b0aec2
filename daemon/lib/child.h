/* SPDX-License-Identifier: GPL-3.0-or-later */
/* child.h: runs a helper program contained, for work the daemon must not
 * do in its own address space (forced alignment). The child starts with an
 * empty signal mask and default dispositions, in its own process group,
 * with stdin on /dev/null, stdout on a pipe read into memory, stderr
 * inherited (the journal), RLIMIT_AS / RLIMIT_CPU set, and
 * PR_SET_PDEATHSIG(SIGKILL). The caller waits at most a wall-clock timeout
 * and can be cancelled from another thread; either way the whole process
 * group is killed and reaped before child_run returns. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct child_limits {
        uint64_t timeout_ms; /* wall clock, from fork to exit; > 0 */
        uint64_t cpu_s;      /* RLIMIT_CPU; 0: none */
        uint64_t as_bytes;   /* RLIMIT_AS; 0: none (ignored in ASan builds) */
        size_t max_output;   /* stdout beyond this is an error (-EFBIG) */
};

/* Any thread. Runs ARGV (ARGV[0] a path, NULL-terminated). CANCEL_FD: -1,
 * or an fd that becomes readable to ask for the child's end (an eventfd
 * written at shutdown). Returns 0 with *RET_STATUS (a wait status) and
 * *RET_OUT (NUL-terminated, *RET_LEN bytes, caller frees) when the child
 * ended by itself; -ETIMEDOUT or -ECANCELED when it was killed; -EFBIG
 * when it wrote too much (killed); other -errno when it could not start.
 * Nothing is returned in the out-parameters on failure. */
int child_run(char *const argv[], const struct child_limits *lim, int cancel_fd, int *ret_status,
              char **ret_out, size_t *ret_len);
