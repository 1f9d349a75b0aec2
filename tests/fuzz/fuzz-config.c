/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-config: the config validator, config_load() on a file holding the
 * input (a memfd, named by /proc/self/fd), errors written to /dev/null. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int fd = -1;
        static FILE *devnull;
        static char path[64];
        struct nextup_config *c = NULL;
        int r;

        if (fd < 0) {
                fd = memfd_create("nextupd.conf", MFD_CLOEXEC);
                devnull = fopen("/dev/null", "w");
                if (fd < 0 || !devnull)
                        abort();
                snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        }
        if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
                abort();
        r = config_load(path, devnull, &c);
        if (r == 0) {
                if (!c || !c->control_socket || !c->state_dir || c->rate < 8000)
                        abort();
                config_free(c);
        } else if (c)
                abort();
        return 0;
}
