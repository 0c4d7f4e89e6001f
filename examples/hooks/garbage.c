/* runaway: misbehaves on output. What it does is chosen by the first document's "mode":
 *   "garbage" (default) prints text that is not JSON;  "extra" one line too many;
 *   "short" one line too few;  "array" JSON arrays instead of objects;
 *   "partial" the first document right, then garbage;  "trap" a WebAssembly trap;
 *   "flood" writes without end (until the output limit).
 */
#include "hook_io.h"

int main(void) {
    hook_io_init();
    size_t len;
    char *doc = read_line(&len);
    char mode[16] = "garbage";
    if (doc) {
        const char *m = strstr(doc, "\"mode\":\"");
        if (m) sscanf(m + 8, "%15[a-z]", mode);
    }
    size_t count = 0;
    do {
        count++;
    } while (read_line(&len));
    if (!strcmp(mode, "trap")) __builtin_trap();
    if (!strcmp(mode, "flood"))
        for (;;) fputs("{\"flood\":true}\n", stdout);
    if (!strcmp(mode, "extra")) count++;
    if (!strcmp(mode, "short")) count--;
    fputs("garbage: misbehaving as asked\n", stderr);
    for (size_t i = 0; i < count; i++) {
        if (!strcmp(mode, "array")) puts("[1,2,3]");
        else if (!strcmp(mode, "extra") || !strcmp(mode, "short")) puts("{}");
        else if (!strcmp(mode, "partial") && i == 0) puts("{\"ok\":true}");
        else puts("this is not JSON");
    }
    return 0;
}
