/*
 * The Range header parser shared by every handler that sends bytes of a file
 * (server/range.c), on any bytes: the first 8 give the representation's size (little
 * endian; small sizes more often), the rest, up to a NUL, is the header's value.
 * Invariants checked (abort() when broken):
 *   - the answer is 1, 0 or -1;
 *   - a range given (1) lies inside the representation: from <= to < size;
 *   - a refusal (-1) is only for a "bytes" range with no comma;
 *   - the same header always gives the same answer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int srv_parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 8 || len > 4096)
        return 0;
    uint64_t size = 0;
    for (int i = 7; i >= 0; i--)
        size = size << 8 | data[i];
    if (data[7] < 0x80)
        size &= 0xffff; /* mostly sizes a test file has */
    char h[4096];
    memcpy(h, data + 8, len - 8);
    h[len - 8] = 0;
    uint64_t from = 0, to = 0, f2 = 0, t2 = 0;
    int rc = srv_parse_range(h, size, &from, &to);
    if (rc < -1 || rc > 1)
        abort();
    if (rc == 1 && !(from <= to && to < size))
        abort();
    if (rc == -1) {
        const char *p = h;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "bytes", 5) != 0 || strchr(h, ','))
            abort();
    }
    if (srv_parse_range(h, size, &f2, &t2) != rc || (rc == 1 && (f2 != from || t2 != to)))
        abort();
    return 0;
}
