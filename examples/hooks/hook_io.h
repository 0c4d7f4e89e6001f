/* Shared I/O for the example conversion hooks (see docs/conversion.md).
 *
 * The batch protocol is JSON Lines: stdin holds one JSON document per line (compact, as the
 * runtime writes it), stdout must hold exactly one JSON object per input line, in order.
 * read_line() returns the next line without its newline (NULL at end of input); the buffer
 * grows as needed and is reused, so a hook streams a batch in constant memory.
 */
#ifndef HOOK_IO_H
#define HOOK_IO_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *hook_line = NULL;
static size_t hook_cap = 0;

static char *read_line(size_t *len) {
    size_t n = 0;
    int c;
    while ((c = getchar()) != EOF) {
        if (n + 1 >= hook_cap) {
            size_t cap = hook_cap ? hook_cap * 2 : 4096;
            char *grown = realloc(hook_line, cap);
            if (!grown) {
                fputs("out of memory reading a document\n", stderr);
                exit(3);
            }
            hook_line = grown;
            hook_cap = cap;
        }
        if (c == '\n') break;
        hook_line[n++] = (char)c;
    }
    if (c == EOF && n == 0) return NULL;
    hook_line[n] = '\0';
    *len = n;
    return hook_line;
}

#endif
