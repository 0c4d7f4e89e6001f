/* identity: copies stdin to stdout unchanged, whatever the direction and versions.
 *
 * The runtime's floor: the benchmark compares a real conversion with this module, which does
 * the same I/O and no work. A kind whose versions share one shape needs no hook at all
 * (strategy None); this one exists to measure and test the runtime.
 */
#include <unistd.h>

int main(void) {
    static char buf[65536];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
        ssize_t off = 0;
        while (off < n) {
            ssize_t w = write(1, buf + off, (size_t)(n - off));
            if (w <= 0) return 1;
            off += w;
        }
    }
    return n < 0 ? 1 : 0;
}
