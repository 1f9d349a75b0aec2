/* SPDX-License-Identifier: GPL-3.0-or-later */
/* driver.c: runs a fuzz target over files, without libFuzzer, so that the
 * seed corpora and every crash found (tests/fuzz/TARGET/) are replayed by
 * the normal and the ASan+UBSan builds as regression tests. Arguments are
 * files or directories (their regular files, in name order). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
        FILE *f = fopen(path, "rb");
        uint8_t *buf = NULL;
        size_t len = 0, alloc = 0, n;

        if (!f) {
                perror(path);
                return 1;
        }
        do {
                if (alloc - len < 65536) {
                        alloc = alloc ? alloc * 2 : 65536;
                        buf = realloc(buf, alloc);
                        if (!buf)
                                abort();
                }
                n = fread(buf + len, 1, alloc - len, f);
                len += n;
        } while (n > 0);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv) {
        int failed = 0, runs = 0;

        for (int i = 1; i < argc; i++) {
                struct dirent **names;
                struct stat st;
                int n;

                if (stat(argv[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
                        failed |= run_file(argv[i]);
                        runs++;
                        continue;
                }
                n = scandir(argv[i], &names, NULL, by_name);
                for (int k = 0; k < n; k++) {
                        char path[4096];

                        snprintf(path, sizeof path, "%s/%s", argv[i], names[k]->d_name);
                        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                                failed |= run_file(path);
                                runs++;
                        }
                        free(names[k]);
                }
                free(n >= 0 ? names : NULL);
        }
        printf("%s: %d inputs run\n", argv[0], runs);
        return failed || runs == 0;
}
