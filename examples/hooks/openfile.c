/* runaway: tries to read files. A hook has no preopened directories, so every open fails;
 * this one says so on stderr and exits 1 (what the runtime reports, with those lines). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    const char *paths[] = {"/etc/passwd", "secrets.txt", "../x"};
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(paths[i], "r");
        if (f) {
            char line[256];
            while (fgets(line, sizeof line, f)) fputs(line, stdout);
            return 0;
        }
        fprintf(stderr, "openfile: cannot open %s: %s\n", paths[i], strerror(errno));
    }
    return 1;
}
