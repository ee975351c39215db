/* Replays fuzz inputs through a libFuzzer target without libFuzzer: every file named on the
 * command line, or found in a directory named there, is passed to LLVMFuzzerTestOneInput.
 * `make test` runs this under ASan+UBSan over the checked-in corpus. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p;
    long n;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    p = malloc((size_t)n + 1);
    if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(p);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(p, (size_t)n);
    free(p);
    return 0;
}

int main(int argc, char **argv)
{
    int i, n = 0, bad = 0;
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: not found\n", argv[i]);
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            struct dirent **names;
            int k, m = scandir(argv[i], &names, NULL, alphasort);
            for (k = 0; k < m; k++) {
                char path[4096];
                if (names[k]->d_name[0] != '.') {
                    snprintf(path, sizeof path, "%s/%s", argv[i], names[k]->d_name);
                    bad |= run_file(path) != 0;
                    n++;
                }
                free(names[k]);
            }
            free(names);
        } else {
            bad |= run_file(argv[i]) != 0;
            n++;
        }
    }
    printf("replayed %d inputs\n", n);
    if (n == 0) {
        fprintf(stderr, "replay: no inputs\n");
        return 1;
    }
    return bad;
}
