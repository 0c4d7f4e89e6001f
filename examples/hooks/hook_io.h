/* Shared I/O for the example conversion hooks (see docs/conversion.md).
 *
 * The batch protocol is JSON Lines: stdin holds one JSON document per line (compact, as the
 * runtime writes it), stdout must hold exactly one JSON object per input line, in order.
 * read_line() returns the next line without its newline (NULL at end of input; getline's
 * buffer grows as needed and is reused), so a hook streams a batch in constant memory.
 * hook_io_init() gives stdin and stdout 64 KiB buffers: the runtime handles each write as one
 * call, so fewer, larger writes are what makes a hook fast (libc's default is 1 KiB).
 */
#ifndef HOOK_IO_H
#define HOOK_IO_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static void hook_io_init(void) {
    static char in[65536], out[65536];
    setvbuf(stdin, in, _IOFBF, sizeof in);
    setvbuf(stdout, out, _IOFBF, sizeof out);
}

static char *read_line(size_t *len) {
    static char *line = NULL;
    static size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) return NULL;
    if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
    *len = (size_t)n;
    return line;
}

#endif
