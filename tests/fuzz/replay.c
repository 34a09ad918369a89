/*
 * Replays a libFuzzer corpus without libFuzzer: `fuzz_x DIR|FILE...` calls
 * LLVMFuzzerTestOneInput once per file, so `make check` runs every committed input under
 * ASan and UBSan with gcc. Prints one TAP line per corpus directory.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "could not open \"%s\"\n", path);
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf || fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    int failed = 0, t = 0;
    printf("1..%d\n", argc - 1);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int files = 0, bad = 0;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.')
                    continue;
                char p[4096];
                snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
                files++;
                if (run_file(p) != 0)
                    bad++;
            }
            if (d)
                closedir(d);
        } else {
            files = 1;
            bad = run_file(argv[i]) != 0;
        }
        t++;
        if (bad || files == 0) {
            failed++;
            printf("not ok %d - replay %s (%d inputs, %d unreadable)\n", t, argv[i], files, bad);
        } else {
            printf("ok %d - replay %s (%d inputs)\n", t, argv[i], files);
        }
    }
    return failed ? 1 : 0;
}
