/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nextupctl-common.c: see nextupctl-common.h. One copy of the connect and
 * reply-reading code that nextupctl.c, -events.c, -schedule.c and
 * -calibrate.c each used to carry. */
#include "nextupctl-common.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"

int ctl_connect(const char *path, int *ret_fd) {
        _cleanup_close_ int fd = -1;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

const char *ctl_json_str(struct json_object *o, const char *key, const char *fallback) {
        struct json_object *v;

        if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
                return json_object_get_string(v);
        return fallback;
}

long long ctl_json_int(struct json_object *o, const char *key, long long fallback) {
        struct json_object *v;

        if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int))
                return json_object_get_int64(v);
        return fallback;
}

char *ctl_abs_path(const char *path) {
        _cleanup_free_ char *cwd = NULL;
        char *abs;

        if (path[0] == '/')
                return strdup(path);
        abs = realpath(path, NULL);
        if (abs)
                return abs;
        cwd = getcwd(NULL, 0);
        if (!cwd)
                return NULL;
        if (asprintf(&abs, "%s/%s", cwd, path) < 0)
                return errno = ENOMEM, NULL;
        return abs;
}
