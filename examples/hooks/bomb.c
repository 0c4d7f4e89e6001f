/* runaway: allocates until memory runs out. The store's memory limit makes memory.grow fail,
 * malloc returns NULL and the hook aborts (a trap the runtime reports as out of memory).
 * It touches one byte per 64 KiB page, so it reaches the memory cap long before its fuel. */
#include <stdlib.h>

int main(void) {
    for (;;) {
        volatile char *block = malloc(1 << 20);
        if (!block) abort();
        for (int page = 0; page < 16; page++) block[page << 16] = 1;
    }
}
