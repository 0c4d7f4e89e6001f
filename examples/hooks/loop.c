/* runaway: never ends. The runtime stops it (fuel or the wall-clock deadline). */
int main(void) {
    volatile unsigned long spins = 0;
    for (;;) spins++;
}
