/* price: the seed's price -> pricingMatrix migration, between v1 (a spoke) and v2 (the hub).
 *
 *   v1 spec: {"title": ..., "price": {"amount": "9.99", "currency": "EUR"}, ...}
 *   v2 spec: {"title": ..., "pricingMatrix": [{"minQuantity": 1,
 *                                              "price": {"amount": "9.99", "currency": "EUR"}}]}
 *
 *   to-hub v1 v2    wraps price into a one-row matrix (no price: no matrix); refuses (exit 3,
 *                   the reason on stderr) a price that is not an object;
 *   from-hub v2 v1  takes the row with minQuantity 1 as price (none: no price). v1 cannot
 *                   express quantity tiers, so other rows are not shown in v1; a v1 writer
 *                   who wants to keep them writes v2.
 *
 * Every other member is copied byte for byte, in place. The JSON handling is a minimal
 * scanner over one compact document per line (what the runtime writes): it finds the
 * top-level members and copies values as raw text, so it never re-encodes strings or numbers.
 */
#include "hook_io.h"

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
    return p;
}

static const char *skip_string(const char *p, const char *end) {
    for (p++; p < end; p++) {
        if (*p == '\\') p++;
        else if (*p == '"') return p + 1;
    }
    return NULL;
}

/* The end of the JSON value starting at p, or NULL if it is malformed or unterminated. */
static const char *skip_value(const char *p, const char *end) {
    if (p >= end) return NULL;
    if (*p == '"') return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = skip_string(p, end);
                if (!p) return NULL;
                continue;
            }
            if (*p == '{' || *p == '[') depth++;
            else if (*p == '}' || *p == ']') {
                if (--depth == 0) return p + 1;
            }
            p++;
        }
        return NULL;
    }
    const char *start = p;
    while (p < end && !strchr(",}] \t\r\n", *p)) p++;
    return p > start ? p : NULL;
}

typedef struct {
    const char *key, *key_end, *value, *value_end;
} member;

/* Reads the next member of an object; *p is after '{' or after the previous member.
 * Returns 1 with m filled, 0 at the closing '}', -1 on malformed input. */
static int next_member(const char **p, const char *end, member *m) {
    const char *q = skip_ws(*p, end);
    if (q < end && *q == ',') q = skip_ws(q + 1, end);
    if (q < end && *q == '}') {
        *p = q + 1;
        return 0;
    }
    if (q >= end || *q != '"') return -1;
    m->key = q;
    q = skip_string(q, end);
    if (!q) return -1;
    m->key_end = q;
    q = skip_ws(q, end);
    if (q >= end || *q != ':') return -1;
    q = skip_ws(q + 1, end);
    m->value = q;
    q = skip_value(q, end);
    if (!q) return -1;
    m->value_end = q;
    *p = q;
    return 1;
}

static int key_is(const member *m, const char *name) {
    size_t n = strlen(name);
    return (size_t)(m->key_end - m->key) == n + 2 && memcmp(m->key + 1, name, n) == 0;
}

static void put(const char *s, const char *e) { fwrite(s, 1, (size_t)(e - s), stdout); }

/* The "price" value of the row of a pricingMatrix array whose minQuantity is 1. */
static int row_price(const char *p, const char *end, member *price) {
    p = skip_ws(p + 1, end); /* after '[' */
    while (p < end && *p != ']') {
        if (*p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (*p != '{') return -1;
        const char *row_end = skip_value(p, end);
        if (!row_end) return -1;
        const char *q = p + 1;
        member m, found = {0};
        int one = 0, r;
        while ((r = next_member(&q, row_end, &m)) == 1) {
            if (key_is(&m, "minQuantity"))
                one = (m.value_end - m.value == 1 && *m.value == '1');
            else if (key_is(&m, "price"))
                found = m;
        }
        if (r < 0) return -1;
        if (one && found.value) {
            *price = found;
            return 1;
        }
        p = skip_ws(row_end, end);
    }
    return 0;
}

static int convert(const char *doc, size_t len, int to_hub) {
    const char *end = doc + len, *p = skip_ws(doc, end);
    if (p >= end || *p != '{') return -1;
    p++;
    member m;
    int r, first = 1;
    putchar('{');
    while ((r = next_member(&p, end, &m)) == 1) {
        if (to_hub && key_is(&m, "price")) {
            if (*m.value != '{') return -2; /* a price is an object {amount, currency} */
            if (!first) putchar(',');
            fputs("\"pricingMatrix\":[{\"minQuantity\":1,\"price\":", stdout);
            put(m.value, m.value_end);
            fputs("}]", stdout);
        } else if (!to_hub && key_is(&m, "pricingMatrix")) {
            member price;
            int found = *m.value == '[' ? row_price(m.value, m.value_end, &price) : -1;
            if (found < 0) return -1;
            if (!found) continue;
            if (!first) putchar(',');
            fputs("\"price\":", stdout);
            put(price.value, price.value_end);
        } else {
            if (!first) putchar(',');
            put(m.key, m.value_end);
        }
        first = 0;
    }
    if (r < 0) return -1;
    fputs("}\n", stdout);
    return 0;
}

int main(int argc, char **argv) {
    hook_io_init();
    if (argc != 4) {
        fputs("usage: price to-hub|from-hub FROM TO\n", stderr);
        return 2;
    }
    int same = strcmp(argv[2], argv[3]) == 0, to_hub;
    if (!strcmp(argv[1], "to-hub") && !strcmp(argv[2], "v1") && !strcmp(argv[3], "v2"))
        to_hub = 1;
    else if (!strcmp(argv[1], "from-hub") && !strcmp(argv[2], "v2") && !strcmp(argv[3], "v1"))
        to_hub = 0;
    else if (!same) {
        fprintf(stderr, "price: no conversion %s %s -> %s (knows v1 <-> v2)\n", argv[1],
                argv[2], argv[3]);
        return 2;
    }
    size_t len, n = 0;
    int r;
    char *doc;
    while ((doc = read_line(&len))) {
        n++;
        if (len == 0) continue;
        if (same) {
            put(doc, doc + len);
            putchar('\n');
        } else if ((r = convert(doc, len, to_hub)) == -2) {
            fprintf(stderr, "price: document %zu: price must be an object "
                            "{\"amount\": ..., \"currency\": ...}\n", n);
            return 3;
        } else if (r < 0) {
            fprintf(stderr, "price: document %zu is not a JSON object this hook can read\n", n);
            return 4;
        }
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
