/* Native-record scanner: the compiled fast path of ingest (see detector/ingest/scan.py).
 *
 * scan(lines, min_ts_us, max_ts_us) reads a list of raw native JSONL lines (bytes) and, for
 * every line of the common shape, builds the canonical row that
 * detector.ingest.fastpath.fast_row would build, column by column (Arrow buffers). A line of any
 * other shape is *declined* (not accepted): the caller parses it in Python, which decides. A
 * decline is never a verdict, so the scanner only has to be right about what it accepts;
 * anything unusual (duplicate keys, exponent numbers, integers beyond 18 digits, lone
 * surrogates, invalid UTF-8, odd types, non-string message contents, unknown
 * top-level keys, nesting beyond MAX_DEPTH...) is declined.
 *
 * request_json / response_json are re-encoded the way orjson.dumps encodes the parsed value:
 * compact, UTF-8, the escapes orjson writes, floats in orjson's plain form. Every read is bounds
 * checked: lines are attacker-controlled.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MAX_DEPTH 64
#define MAX_KEYS 64
#define MAX_ID_CHARS 1024

/* ---------------------------------------------------------------- growable buffers */

typedef struct {
    char *p;
    size_t n, cap;
} Buf;

static int buf_reserve(Buf *b, size_t extra) {
    if (b->n + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra) {
        if (cap > ((size_t)1 << 40)) return -1;
        cap *= 2;
    }
    char *p = (char *)PyMem_Realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_put(Buf *b, const void *s, size_t n) {
    if (buf_reserve(b, n)) return -1;
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

static int buf_byte(Buf *b, char c) { return buf_put(b, &c, 1); }

static void buf_free(Buf *b) {
    PyMem_Free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

/* ---------------------------------------------------------------- BLAKE2b-64 (RFC 7693) */

static const uint64_t B2_IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
    0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
    0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};

static const uint8_t B2_SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

#define ROTR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define B2G(a, b, c, d, x, y)             \
    do {                                  \
        v[a] = v[a] + v[b] + (x);         \
        v[d] = ROTR64(v[d] ^ v[a], 32);   \
        v[c] = v[c] + v[d];               \
        v[b] = ROTR64(v[b] ^ v[c], 24);   \
        v[a] = v[a] + v[b] + (y);         \
        v[d] = ROTR64(v[d] ^ v[a], 16);   \
        v[c] = v[c] + v[d];               \
        v[b] = ROTR64(v[b] ^ v[c], 63);   \
    } while (0)

static void b2_compress(uint64_t h[8], const uint8_t block[128], uint64_t t, int last) {
    uint64_t m[16], v[16];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(m, block, 128);
#else
    for (int i = 0; i < 16; i++) {
        uint64_t w = 0;
        for (int j = 7; j >= 0; j--) w = (w << 8) | block[i * 8 + j];
        m[i] = w;
    }
#endif
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = B2_IV[i];
    }
    v[12] ^= t;
    if (last) v[14] = ~v[14];
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 12
#endif
    for (int r = 0; r < 12; r++) {
        const uint8_t *s = B2_SIGMA[r];
        B2G(0, 4, 8, 12, m[s[0]], m[s[1]]);
        B2G(1, 5, 9, 13, m[s[2]], m[s[3]]);
        B2G(2, 6, 10, 14, m[s[4]], m[s[5]]);
        B2G(3, 7, 11, 15, m[s[6]], m[s[7]]);
        B2G(0, 5, 10, 15, m[s[8]], m[s[9]]);
        B2G(1, 6, 11, 12, m[s[10]], m[s[11]]);
        B2G(2, 7, 8, 13, m[s[12]], m[s[13]]);
        B2G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
}

/* blake2b(data, digest_size=outlen) state after the last block; outlen <= 64. */
static void blake2b(const uint8_t *data, size_t n, uint64_t h[8], unsigned outlen) {
    uint8_t block[128];
    for (int i = 0; i < 8; i++) h[i] = B2_IV[i];
    h[0] ^= 0x01010000ULL ^ (uint64_t)outlen;
    uint64_t t = 0;
    while (n > 128) {
        t += 128;
        b2_compress(h, data, t, 0);
        data += 128;
        n -= 128;
    }
    memset(block, 0, sizeof block);
    if (n) memcpy(block, data, n);
    t += n;
    b2_compress(h, block, t, 1);
}

/* Hex of blake2b(data, digest_size=8) into out[16]. */
static void blake2b64_hex(const uint8_t *data, size_t n, char out[16]) {
    uint64_t h[8];
    blake2b(data, n, h, 8);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        uint8_t byte = (uint8_t)(h[0] >> (8 * i));
        out[2 * i] = hex[byte >> 4];
        out[2 * i + 1] = hex[byte & 15];
    }
}

/* ---------------------------------------------------------------- output columns */

enum { K_STR, K_I64, K_I32, K_F64, K_BOOL };

typedef struct {
    int kind;
    Buf data, offs, valid;
} Col;

static int col_null(Col *c) {
    if (buf_byte(&c->valid, 0)) return -1;
    switch (c->kind) {
    case K_STR: {
        int32_t end = (int32_t)c->data.n;
        return buf_put(&c->offs, &end, 4);
    }
    case K_I64: { int64_t z = 0; return buf_put(&c->data, &z, 8); }
    case K_I32: { int32_t z = 0; return buf_put(&c->data, &z, 4); }
    case K_F64: { double z = 0; return buf_put(&c->data, &z, 8); }
    default: return buf_byte(&c->data, 0);
    }
}

static int col_str(Col *c, const char *s, size_t n) {
    if (c->data.n + n > (size_t)INT32_MAX) return -1;
    if (buf_byte(&c->valid, 1) || buf_put(&c->data, s, n)) return -1;
    int32_t end = (int32_t)c->data.n;
    return buf_put(&c->offs, &end, 4);
}

static int col_i64(Col *c, int64_t v) { return buf_byte(&c->valid, 1) || buf_put(&c->data, &v, 8); }
static int col_i32(Col *c, int32_t v) { return buf_byte(&c->valid, 1) || buf_put(&c->data, &v, 4); }
static int col_f64(Col *c, double v) { return buf_byte(&c->valid, 1) || buf_put(&c->data, &v, 8); }
static int col_bool(Col *c, int v) { return buf_byte(&c->valid, 1) || buf_byte(&c->data, v ? 1 : 0); }

/* ---------------------------------------------------------------- values */

enum { V_ABSENT, V_NULL, V_FALSE, V_TRUE, V_INT, V_FLOAT, V_STR, V_ARR, V_OBJ };

/* A parsed value: strings are decoded into the row's ``dec`` buffer at [off, off + len). */
typedef struct {
    int type;
    int truthy;
    int64_t i;
    double f;
    size_t off, len;
    int ascii;
    int plain; /* string without any escape: its orjson form is its source bytes */
} Val;

/* A string span in ``dec``; off == SIZE_MAX means null. */
typedef struct {
    size_t off, len;
} Span;

#define NOSPAN ((Span){SIZE_MAX, 0})

typedef struct {
    const uint8_t *s;
    size_t n, pos;
    Buf dec;   /* decoded strings of the current row */
    Buf out;   /* canonical JSON being emitted (request, then response) */
    Buf turns; /* Span per user (kind 1) or system (kind 2) text, kind in len's bits 62-63 */
} Ctx;

#define DECLINE (-1)
#define FAIL (-2) /* out of memory */

static inline void skip_ws(Ctx *c) {
    while (c->pos < c->n) {
        uint8_t ch = c->s[c->pos];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') c->pos++;
        else break;
    }
}

static int hexval(uint8_t ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int read_u4(Ctx *c, uint32_t *out) {
    if (c->pos + 4 > c->n) return DECLINE;
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(c->s[c->pos + k]);
        if (h < 0) return DECLINE;
        v = (v << 4) | (uint32_t)h;
    }
    c->pos += 4;
    *out = v;
    return 0;
}

static int put_utf8(Buf *b, uint32_t cp) {
    char t[4];
    size_t k;
    if (cp < 0x80) { t[0] = (char)cp; k = 1; }
    else if (cp < 0x800) { t[0] = (char)(0xC0 | (cp >> 6)); t[1] = (char)(0x80 | (cp & 0x3F)); k = 2; }
    else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12)); t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F)); k = 3;
    } else {
        t[0] = (char)(0xF0 | (cp >> 18)); t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); t[3] = (char)(0x80 | (cp & 0x3F)); k = 4;
    }
    return buf_put(b, t, k);
}

/* Length of the valid UTF-8 sequence starting at s[0] (a byte >= 0x80), 0 if invalid. Rejects
 * overlong forms, surrogates and code points beyond U+10FFFF, as a strict decoder does. */
static size_t utf8_len(const uint8_t *s, size_t avail) {
    uint8_t b0 = s[0];
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        return (avail >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (avail < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (b0 == 0xE0 && s[1] < 0xA0) return 0;
        if (b0 == 0xED && s[1] >= 0xA0) return 0;
        return 3;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (avail < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (b0 == 0xF0 && s[1] < 0x90) return 0;
        if (b0 == 0xF4 && s[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

/* Index of the first byte at or after i that is '"', '\\', < 0x20 or >= 0x80 (n if none). */
static inline size_t plain_run(const uint8_t *s, size_t i, size_t n) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
        /* signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too */
        __m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                                _mm_cmpeq_epi8(v, bslash)),
                                   _mm_cmplt_epi8(v, space));
        int m = _mm_movemask_epi8(bad);
        if (m) return i + (size_t)__builtin_ctz((unsigned)m);
        i += 16;
    }
#endif
    while (i < n) {
        uint8_t ch = s[i];
        if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x80) break;
        i++;
    }
    return i;
}

/* Decode the JSON string at pos (on its opening quote) onto c->dec. */
static int parse_string(Ctx *c, Val *v) {
    c->pos++; /* opening quote */
    size_t start = c->dec.n;
    int ascii = 1, plain = 1;
    for (;;) {
        /* copy a run of plain bytes */
        size_t run = plain_run(c->s, c->pos, c->n);
        if (run > c->pos) {
            if (buf_put(&c->dec, c->s + c->pos, run - c->pos)) return FAIL;
            c->pos = run;
        }
        if (c->pos >= c->n) return DECLINE;
        uint8_t ch = c->s[c->pos];
        if (ch == '"') {
            c->pos++;
            break;
        }
        if (ch < 0x20) return DECLINE;
        if (ch >= 0x80) {
            size_t k = utf8_len(c->s + c->pos, c->n - c->pos);
            if (!k) return DECLINE;
            if (buf_put(&c->dec, c->s + c->pos, k)) return FAIL;
            c->pos += k;
            ascii = 0;
            continue;
        }
        /* backslash */
        plain = 0;
        if (c->pos + 1 >= c->n) return DECLINE;
        uint8_t e = c->s[c->pos + 1];
        c->pos += 2;
        char lit;
        switch (e) {
        case '"': lit = '"'; break;
        case '\\': lit = '\\'; break;
        case '/': lit = '/'; break;
        case 'b': lit = '\b'; break;
        case 'f': lit = '\f'; break;
        case 'n': lit = '\n'; break;
        case 'r': lit = '\r'; break;
        case 't': lit = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (read_u4(c, &cp)) return DECLINE;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return DECLINE; /* lone low surrogate */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (c->pos + 2 > c->n || c->s[c->pos] != '\\' || c->s[c->pos + 1] != 'u')
                    return DECLINE;
                c->pos += 2;
                if (read_u4(c, &lo) || lo < 0xDC00 || lo > 0xDFFF) return DECLINE;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp >= 0x80) ascii = 0;
            if (put_utf8(&c->dec, cp)) return FAIL;
            continue;
        }
        default: return DECLINE;
        }
        if (buf_byte(&c->dec, lit)) return FAIL;
    }
    v->type = V_STR;
    v->off = start;
    v->len = c->dec.n - start;
    v->truthy = v->len > 0;
    v->ascii = ascii;
    v->plain = plain;
    return 0;
}

/* Append the orjson encoding of the decoded string dec[off, off+len) to c->out; ``plain``: it
 * came without escapes, so it has nothing to escape. */
static int emit_string(Ctx *c, size_t off, size_t len, int plain) {
    static const char hex[] = "0123456789abcdef";
    if (buf_reserve(&c->out, len + 2)) return FAIL;
    c->out.p[c->out.n++] = '"';
    if (plain) {
        memcpy(c->out.p + c->out.n, c->dec.p + off, len);
        c->out.n += len;
        c->out.p[c->out.n++] = '"';
        return 0;
    }
    const uint8_t *s = (const uint8_t *)c->dec.p + off;
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len && s[run] >= 0x20 && s[run] != '"' && s[run] != '\\') run++;
        if (run > i) {
            if (buf_put(&c->out, s + i, run - i)) return FAIL;
            s = (const uint8_t *)c->dec.p + off; /* dec is not touched, but keep it obvious */
            i = run;
        }
        if (i >= len) break;
        uint8_t ch = s[i++];
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t k = 2;
        switch (ch) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[ch >> 4]; esc[5] = hex[ch & 15];
            k = 6;
        }
        if (buf_put(&c->out, esc, k)) return FAIL;
    }
    return buf_byte(&c->out, '"') ? FAIL : 0;
}

/* A JSON number. Accepted: integers of at most 18 digits, and fractions without exponent of at
 * most 15 significant digits whose orjson form is plain (zero, or 1e-5 <= |x| < 1e15). With
 * ``emit``, the orjson encoding is appended to c->out. */
static int parse_number(Ctx *c, Val *v, int emit) {
    size_t start = c->pos, p = c->pos;
    int neg = 0;
    if (p < c->n && c->s[p] == '-') { neg = 1; p++; }
    size_t int_start = p;
    while (p < c->n && c->s[p] >= '0' && c->s[p] <= '9') p++;
    size_t int_len = p - int_start;
    if (int_len == 0 || (int_len > 1 && c->s[int_start] == '0')) return DECLINE;
    size_t frac_start = 0, frac_len = 0;
    if (p < c->n && c->s[p] == '.') {
        p++;
        frac_start = p;
        while (p < c->n && c->s[p] >= '0' && c->s[p] <= '9') p++;
        frac_len = p - frac_start;
        if (!frac_len) return DECLINE;
    }
    if (p < c->n && (c->s[p] == 'e' || c->s[p] == 'E')) return DECLINE;
    c->pos = p;
    if (!frac_start) {
        if (int_len > 18) return DECLINE;
        int64_t x = 0;
        for (size_t k = int_start; k < p; k++) x = x * 10 + (c->s[k] - '0');
        v->type = V_INT;
        v->i = neg ? -x : x;
        v->truthy = x != 0;
        if (emit) {
            if (neg && x == 0) return buf_byte(&c->out, '0') ? FAIL : 0; /* orjson: -0 -> 0 */
            return buf_put(&c->out, c->s + start, p - start) ? FAIL : 0;
        }
        return 0;
    }
    /* fraction: trailing zeros beyond the first fraction digit go (1.50 -> 1.5, 1.00 -> 1.0) */
    size_t keep = frac_len;
    while (keep > 1 && c->s[frac_start + keep - 1] == '0') keep--;
    int int_zero = int_len == 1 && c->s[int_start] == '0';
    size_t lead = 0; /* leading zeros of the fraction when the integer part is 0 */
    if (int_zero) while (lead < keep && c->s[frac_start + lead] == '0') lead++;
    int all_zero = int_zero && lead == keep && c->s[frac_start + keep - 1] == '0';
    size_t sig = int_zero ? keep - lead : int_len + keep;
    if (!all_zero && (sig > 15 || int_len > 15 || (int_zero && lead > 4))) return DECLINE;
    char tmp[48];
    size_t tlen = p - start;
    if (tlen >= sizeof tmp) return DECLINE;
    memcpy(tmp, c->s + start, tlen);
    tmp[tlen] = 0;
    char *end = NULL;
    double d = PyOS_string_to_double(tmp, &end, NULL);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return DECLINE;
    }
    if (end != tmp + tlen) return DECLINE;
    v->type = V_FLOAT;
    v->f = d;
    v->truthy = d != 0.0;
    if (emit) {
        if (all_zero) {
            const char *z = neg ? "-0.0" : "0.0";
            return buf_put(&c->out, z, strlen(z)) ? FAIL : 0;
        }
        return buf_put(&c->out, c->s + start, frac_start + keep - start) ? FAIL : 0;
    }
    return 0;
}

static int lit(Ctx *c, const char *word, size_t k) {
    if (c->pos + k > c->n || memcmp(c->s + c->pos, word, k)) return DECLINE;
    c->pos += k;
    return 0;
}

/* Members of an object to record while parsing it: keys[j]'s value goes to found[j] (may be
 * NULL), and when that value is itself an object, sub[j] (may be NULL) applies inside it. */
#define MAX_PICK 8
typedef struct Pick {
    int n;
    const char *keys[MAX_PICK];
    Val *found[MAX_PICK];
    const struct Pick *sub[MAX_PICK];
} Pick;

static int parse_value(Ctx *c, Val *v, int emit, int depth, const Pick *pick);

static inline int key_eq(Ctx *c, const Val *k, const char *name) {
    if (!k->len || c->dec.p[k->off] != name[0]) return 0;
    size_t n = strlen(name);
    return k->len == n && memcmp(c->dec.p + k->off, name, n) == 0;
}

/* After a member or an element: 1 at a comma (another follows), 0 at the closing ``close``
 * (consumed), DECLINE at anything else. */
static int next_item(Ctx *c, char close) {
    skip_ws(c);
    if (c->pos >= c->n) return DECLINE;
    if (c->s[c->pos] == ',') { c->pos++; return 1; }
    if (c->s[c->pos] == close) { c->pos++; return 0; }
    return DECLINE;
}

/* The key of the next object member and the colon after it: decoded into ``k``, checked against
 * the object's keys so far (``keys``, ``*nkeys``; a duplicate declines), emitted with ``emit``
 * (after a comma unless it is the first). Leaves pos on the member's value. */
static int member_key(Ctx *c, Span keys[MAX_KEYS], int *nkeys, int emit, Val *k) {
    int rc;
    skip_ws(c);
    if (c->pos >= c->n || c->s[c->pos] != '"') return DECLINE;
    if ((rc = parse_string(c, k))) return rc;
    if (*nkeys >= MAX_KEYS) return DECLINE;
    for (int j = 0; j < *nkeys; j++)
        if (keys[j].len == k->len && !memcmp(c->dec.p + keys[j].off, c->dec.p + k->off, k->len))
            return DECLINE;
    keys[(*nkeys)++] = (Span){k->off, k->len};
    if (emit) {
        if (*nkeys > 1 && buf_byte(&c->out, ',')) return FAIL;
        if ((rc = emit_string(c, k->off, k->len, k->plain))) return rc;
        if (buf_byte(&c->out, ':')) return FAIL;
    }
    skip_ws(c);
    if (c->pos >= c->n || c->s[c->pos] != ':') return DECLINE;
    c->pos++;
    skip_ws(c);
    return 0;
}

/* Object at pos: every member parsed (and emitted with ``emit``); duplicate keys decline. */
static int parse_object(Ctx *c, Val *v, int emit, int depth, const Pick *pick) {
    if (depth > MAX_DEPTH) return DECLINE;
    c->pos++;
    if (emit && buf_byte(&c->out, '{')) return FAIL;
    Span keys[MAX_KEYS];
    int nkeys = 0, rc;
    skip_ws(c);
    v->type = V_OBJ;
    v->truthy = 0;
    if (c->pos < c->n && c->s[c->pos] == '}') {
        c->pos++;
        return emit && buf_byte(&c->out, '}') ? FAIL : 0;
    }
    for (;;) {
        Val k, m;
        if ((rc = member_key(c, keys, &nkeys, emit, &k))) return rc;
        Val *target = &m;
        const Pick *sub = NULL;
        if (pick) {
            for (int j = 0; j < pick->n; j++) {
                if (key_eq(c, &k, pick->keys[j])) {
                    if (pick->found[j]) target = pick->found[j];
                    sub = pick->sub[j];
                    break;
                }
            }
        }
        if ((rc = parse_value(c, target, emit, depth + 1, sub))) return rc;
        if ((rc = next_item(c, '}')) <= 0) {
            if (rc) return rc;
            break;
        }
    }
    v->type = V_OBJ;
    v->truthy = 1;
    return emit && buf_byte(&c->out, '}') ? FAIL : 0;
}

static int parse_array(Ctx *c, Val *v, int emit, int depth) {
    if (depth > MAX_DEPTH) return DECLINE;
    c->pos++;
    if (emit && buf_byte(&c->out, '[')) return FAIL;
    skip_ws(c);
    int count = 0;
    if (c->pos < c->n && c->s[c->pos] == ']') {
        c->pos++;
    } else {
        for (;;) {
            skip_ws(c);
            if (emit && count && buf_byte(&c->out, ',')) return FAIL;
            Val m;
            int r = parse_value(c, &m, emit, depth + 1, NULL);
            if (r) return r;
            count++;
            if ((r = next_item(c, ']')) <= 0) {
                if (r) return r;
                break;
            }
        }
    }
    v->type = V_ARR;
    v->truthy = count > 0;
    return emit && buf_byte(&c->out, ']') ? FAIL : 0;
}

static int parse_value(Ctx *c, Val *v, int emit, int depth, const Pick *pick) {
    skip_ws(c);
    if (c->pos >= c->n) return DECLINE;
    uint8_t ch = c->s[c->pos];
    int r;
    v->truthy = 0;
    switch (ch) {
    case '{': return parse_object(c, v, emit, depth, pick);
    case '[': return parse_array(c, v, emit, depth);
    case '"':
        if ((r = parse_string(c, v))) return r;
        return emit ? emit_string(c, v->off, v->len, v->plain) : 0;
    case 't':
        if (lit(c, "true", 4)) return DECLINE;
        v->type = V_TRUE; v->truthy = 1;
        return emit && buf_put(&c->out, "true", 4) ? FAIL : 0;
    case 'f':
        if (lit(c, "false", 5)) return DECLINE;
        v->type = V_FALSE;
        return emit && buf_put(&c->out, "false", 5) ? FAIL : 0;
    case 'n':
        if (lit(c, "null", 4)) return DECLINE;
        v->type = V_NULL;
        return emit && buf_put(&c->out, "null", 4) ? FAIL : 0;
    default:
        if (ch == '-' || (ch >= '0' && ch <= '9')) return parse_number(c, v, emit);
        return DECLINE;
    }
}

/* ---------------------------------------------------------------- timestamps */

static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, int k, int *out) {
    int x = 0;
    for (int i = 0; i < k; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        x = x * 10 + (s[i] - '0');
    }
    *out = x;
    return 0;
}

/* Epoch µs of a strict RFC 3339 string (YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM)) with
 * the field ranges datetime.fromisoformat enforces; -1 when it is not one. */
static int rfc3339_us(const char *s, size_t n, int64_t *out) {
    int Y, M, D, h, mi, sec, oh = 0, om = 0;
    if (n < 20) return -1;
    if (digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || s[10] != 'T' || digits(s + 11, 2, &h) || s[13] != ':' ||
        digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    size_t p = 19;
    int64_t frac = 0;
    if (p < n && s[p] == '.') {
        p++;
        int k = 0;
        while (p < n && s[p] >= '0' && s[p] <= '9' && k < 7) { frac = frac * 10 + (s[p] - '0'); p++; k++; }
        if (k == 0 || k > 6) return -1;
        for (; k < 6; k++) frac *= 10;
    }
    if (p >= n) return -1;
    int sign = 0;
    if (s[p] == 'Z') {
        p++;
    } else if (s[p] == '+' || s[p] == '-') {
        sign = s[p] == '-' ? -1 : 1;
        if (p + 6 > n || digits(s + p + 1, 2, &oh) || s[p + 3] != ':' || digits(s + p + 4, 2, &om))
            return -1;
        p += 6;
        if (oh > 23 || om > 59) return -1;
    } else {
        return -1;
    }
    if (p != n) return -1;
    static const int dim[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (Y < 1 || M < 1 || M > 12 || D < 1 || h > 23 || mi > 59 || sec > 59) return -1;
    int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (D > dim[M] + (M == 2 && leap)) return -1;
    int64_t secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec;
    secs -= (int64_t)sign * (oh * 3600 + om * 60);
    *out = secs * 1000000 + frac;
    return 0;
}

/* ---------------------------------------------------------------- one record */

/* The scanner's columns: enum name, value kind, lake column name. Names and order must equal
 * detector.lake.schema.REQUEST_SCHEMA without its three source columns; the module exports them
 * as COLUMNS and detector/ingest/scan.py refuses a scanner whose table differs. */
#define COLUMNS(X)  \
    X(C_REQUEST_ID, K_STR, "request_id") \
    X(C_TS, K_I64, "ts") \
    X(C_ACCOUNT_ID, K_STR, "account_id") \
    X(C_ORG_ID, K_STR, "org_id") \
    X(C_API_KEY_ID, K_STR, "api_key_id") \
    X(C_ENDPOINT, K_STR, "endpoint") \
    X(C_MODEL, K_STR, "model") \
    X(C_CLIENT_IP, K_STR, "client_ip") \
    X(C_IP_PREFIX, K_STR, "ip_prefix") \
    X(C_USER_AGENT, K_STR, "user_agent") \
    X(C_PAYMENT_FP, K_STR, "payment_fingerprint") \
    X(C_CREATED, K_I64, "account_created_at") \
    X(C_N_MESSAGES, K_I32, "n_messages") \
    X(C_N_USER, K_I32, "n_user_turns") \
    X(C_SYSTEM, K_STR, "system_prompt") \
    X(C_SYSTEM_HASH, K_STR, "system_hash") \
    X(C_PROMPT, K_STR, "prompt_text") \
    X(C_PROMPT_HASH, K_STR, "prompt_hash") \
    X(C_PROMPT_CHARS, K_I64, "prompt_chars") \
    X(C_MAX_TOKENS, K_I64, "max_tokens") \
    X(C_TEMPERATURE, K_F64, "temperature") \
    X(C_TOP_P, K_F64, "top_p") \
    X(C_N, K_I32, "n") \
    X(C_LOGPROBS, K_BOOL, "logprobs") \
    X(C_TOP_LOGPROBS, K_I32, "top_logprobs") \
    X(C_STREAM, K_BOOL, "stream") \
    X(C_SEED, K_I64, "seed") \
    X(C_EFFORT, K_STR, "reasoning_effort") \
    X(C_HAS_TOOLS, K_BOOL, "has_tools") \
    X(C_RESPONSE_FORMAT, K_STR, "response_format") \
    X(C_END_USER_HASH, K_STR, "end_user_hash") \
    X(C_STATUS, K_I32, "status") \
    X(C_FINISH, K_STR, "finish_reason") \
    X(C_OUTPUT_CHARS, K_I64, "output_chars") \
    X(C_PROMPT_TOKENS, K_I64, "prompt_tokens") \
    X(C_COMPLETION_TOKENS, K_I64, "completion_tokens") \
    X(C_REASONING_TOKENS, K_I64, "reasoning_tokens") \
    X(C_LATENCY, K_F64, "latency_ms") \
    X(C_REQUEST_JSON, K_STR, "request_json") \
    X(C_RESPONSE_JSON, K_STR, "response_json") \
    X(C_METADATA_JSON, K_STR, "metadata_json")

#define COLUMN_NAME(name, kind, lake) name,
#define COLUMN_KIND(name, kind, lake) kind,
#define COLUMN_LAKE(name, kind, lake) lake,
enum { COLUMNS(COLUMN_NAME) N_COLS };
static const int COL_KIND[N_COLS] = {COLUMNS(COLUMN_KIND)};
static const char *const COL_LAKE[N_COLS] = {COLUMNS(COLUMN_LAKE)};

/* Top-level keys (detector.ingest.normalize.KNOWN_FIELDS). */
enum {
    T_REQUEST_ID, T_TIMESTAMP, T_ACCOUNT_ID, T_ORG_ID, T_API_KEY_ID, T_ENDPOINT, T_MODEL,
    T_CLIENT_IP, T_USER_AGENT, T_PAYMENT_FP, T_CREATED, T_REQUEST, T_RESPONSE, T_USAGE,
    T_LATENCY, T_METADATA, N_TOP
};
static const char *TOP_KEYS[N_TOP] = {
    "request_id", "timestamp", "account_id", "org_id", "api_key_id", "endpoint", "model",
    "client_ip", "user_agent", "payment_fingerprint", "account_created_at", "request",
    "response", "usage", "latency_ms", "metadata"};

/* Request keys the row reads. */
enum {
    R_MESSAGES, R_INSTRUCTIONS, R_MAX_TOKENS, R_MAX_COMPLETION, R_MAX_OUTPUT, R_TEMPERATURE,
    R_TOP_P, R_N, R_LOGPROBS, R_TOP_LOGPROBS, R_STREAM, R_SEED, R_EFFORT, R_REASONING,
    R_RESPONSE_FORMAT, R_TEXT, R_TOOLS, R_FUNCTIONS, R_USER, R_SAFETY_ID, R_PROMPT, R_INPUT,
    N_REQ
};
static const char *REQ_KEYS[N_REQ] = {
    "messages", "instructions", "max_tokens", "max_completion_tokens", "max_output_tokens",
    "temperature", "top_p", "n", "logprobs", "top_logprobs", "stream", "seed",
    "reasoning_effort", "reasoning", "response_format", "text", "tools", "functions", "user",
    "safety_identifier", "prompt", "input"};

typedef struct {
    Val top[N_TOP];
    Val req[N_REQ];
    Val effort_in_reasoning, rf_type, text_format_type;
    Val status, status_code, finish, output_text, choices;
    Val u_prompt, u_input, u_completion, u_output, u_reasoning, u_ctd, u_otd;
    Val ctd_reasoning, otd_reasoning;
    size_t req_off, req_len, resp_off, resp_len, meta_off, meta_len;
    int n_messages, n_user;
    Span prompt, system;
} Rec;

static int match_key(Ctx *c, const Val *k, const char **names, int n) {
    for (int i = 0; i < n; i++)
        if (key_eq(c, k, names[i])) return i;
    return -1;
}

/* The messages array: role/content of each item; texts joined onto dec. */
static int parse_messages(Ctx *c, Rec *r, int depth) {
    c->pos++;
    if (buf_byte(&c->out, '[')) return FAIL;
    c->turns.n = 0;
    int count = 0, rc;
    skip_ws(c);
    if (c->pos < c->n && c->s[c->pos] == ']') return DECLINE; /* empty: read_turns decides */
    for (;;) {
        skip_ws(c);
        if (c->pos >= c->n || c->s[c->pos] != '{') return DECLINE;
        if (count && buf_byte(&c->out, ',')) return FAIL;
        Val role = {0}, content = {0}, item;
        Pick pk = {2, {"role", "content"}, {&role, &content}, {NULL, NULL}};
        if ((rc = parse_object(c, &item, 1, depth + 1, &pk))) return rc;
        if (role.type != V_STR || role.len == 0) return DECLINE;
        Span text;
        if (content.type == V_STR) text = (Span){content.off, content.len};
        else if (content.type == V_NULL || content.type == V_ABSENT) text = (Span){0, 0};
        else return DECLINE;
        int kind = key_eq(c, &role, "user") ? 1
                 : (key_eq(c, &role, "system") || key_eq(c, &role, "developer")) ? 2 : 0;
        if (kind) {
            Span tagged = {text.off, text.len | ((size_t)kind << 62)};
            if (buf_put(&c->turns, &tagged, sizeof tagged)) return FAIL;
        }
        if (kind == 1) r->n_user++;
        count++;
        if ((rc = next_item(c, ']')) <= 0) {
            if (rc) return rc;
            break;
        }
    }
    r->n_messages = count;
    return buf_byte(&c->out, ']') ? FAIL : 0;
}

static int parse_request(Ctx *c, Rec *r, int depth) {
    c->pos++;
    r->req_off = c->out.n;
    if (buf_byte(&c->out, '{')) return FAIL;
    Span keys[MAX_KEYS];
    int nkeys = 0, rc;
    skip_ws(c);
    if (c->pos < c->n && c->s[c->pos] == '}') {
        c->pos++;
        if (buf_byte(&c->out, '}')) return FAIL;
        r->req_len = c->out.n - r->req_off;
        return 0;
    }
    for (;;) {
        Val k;
        if ((rc = member_key(c, keys, &nkeys, 1, &k))) return rc;
        int which = match_key(c, &k, REQ_KEYS, N_REQ);
        Val tmp;
        if (which == R_MESSAGES && c->pos < c->n && c->s[c->pos] == '[') {
            if ((rc = parse_messages(c, r, depth + 1))) return rc;
            r->req[R_MESSAGES].type = V_ARR;
        } else if (which == R_MESSAGES) {
            if ((rc = parse_value(c, &r->req[which], 1, depth + 1, NULL))) return rc;
            if (r->req[which].type != V_NULL) return DECLINE; /* messages_not_a_list */
        } else if (which == R_REASONING) {
            Pick p = {1, {"effort"}, {&r->effort_in_reasoning}, {NULL}};
            if ((rc = parse_value(c, &r->req[which], 1, depth + 1, &p))) return rc;
        } else if (which == R_RESPONSE_FORMAT) {
            Pick p = {1, {"type"}, {&r->rf_type}, {NULL}};
            if ((rc = parse_value(c, &r->req[which], 1, depth + 1, &p))) return rc;
        } else if (which == R_TEXT) {
            Pick inner = {1, {"type"}, {&r->text_format_type}, {NULL}};
            Pick p = {1, {"format"}, {NULL}, {&inner}};
            if ((rc = parse_value(c, &r->req[which], 1, depth + 1, &p))) return rc;
        } else if (which >= 0) {
            if ((rc = parse_value(c, &r->req[which], 1, depth + 1, NULL))) return rc;
        } else {
            if ((rc = parse_value(c, &tmp, 1, depth + 1, NULL))) return rc;
        }
        if ((rc = next_item(c, '}')) <= 0) {
            if (rc) return rc;
            break;
        }
    }
    if (buf_byte(&c->out, '}')) return FAIL;
    r->req_len = c->out.n - r->req_off;
    return 0;
}

static int parse_response(Ctx *c, Rec *r) {
    Pick p = {5, {"status", "finish_reason", "status_code", "output_text", "choices"},
              {&r->status, &r->finish, &r->status_code, &r->output_text, &r->choices},
              {NULL, NULL, NULL, NULL, NULL}};
    r->resp_off = c->out.n;
    int rc = parse_object(c, &r->top[T_RESPONSE], 1, 1, &p);
    r->resp_len = c->out.n - r->resp_off;
    return rc;
}

static int parse_usage(Ctx *c, Rec *r) {
    Pick ctd = {1, {"reasoning_tokens"}, {&r->ctd_reasoning}, {NULL}};
    Pick otd = {1, {"reasoning_tokens"}, {&r->otd_reasoning}, {NULL}};
    Pick p = {7, {"prompt_tokens", "input_tokens", "completion_tokens", "output_tokens",
                  "reasoning_tokens", "completion_tokens_details", "output_tokens_details"},
              {&r->u_prompt, &r->u_input, &r->u_completion, &r->u_output, &r->u_reasoning,
               &r->u_ctd, &r->u_otd},
              {NULL, NULL, NULL, NULL, NULL, &ctd, &otd}};
    return parse_object(c, &r->top[T_USAGE], 0, 1, &p);
}

static int is_null(const Val *v) { return v->type == V_ABSENT || v->type == V_NULL; }

/* A usage count as fastpath._token_count reads it: 1 with a value, 0 for none, DECLINE else. */
static int token_count(const Val *v, const Val *alt, int64_t *out) {
    const Val *x = is_null(v) && alt ? alt : v;
    if (is_null(x)) return 0;
    if (x->type != V_INT) return DECLINE;
    *out = x->i;
    return 1;
}

/* Optional int64 parameter (fastpath._int for ints; other non-null types decline). */
static int opt_int(const Val *v, int64_t *out) {
    if (is_null(v)) return 0;
    if (v->type != V_INT) return DECLINE;
    *out = v->i;
    return 1;
}

static int opt_float(const Val *v, double *out) {
    if (is_null(v)) return 0;
    if (v->type == V_FLOAT) { *out = v->f; return 1; }
    if (v->type == V_INT) { *out = (double)v->i; return 1; }
    return DECLINE;
}

static int opt_bool(const Val *v, int *out) {
    if (is_null(v)) { *out = 0; return 0; }
    if (v->type == V_TRUE || v->type == V_FALSE) { *out = v->type == V_TRUE; return 0; }
    return DECLINE;
}

/* Python's str.isspace() for the ASCII range. */
static int py_ascii_space(uint8_t ch) {
    return ch == ' ' || (ch >= 0x09 && ch <= 0x0d) || (ch >= 0x1c && ch <= 0x1f);
}

static size_t code_points(const char *s, size_t n) {
    const uint8_t *u = (const uint8_t *)s;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += (u[i] & 0xC0) != 0x80;
    return k;
}

static int all_ascii(const char *s, size_t n) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
#if defined(__SSE2__)
    __m128i acc = _mm_setzero_si128();
    for (; i + 16 <= n; i += 16) acc = _mm_or_si128(acc, _mm_loadu_si128((const __m128i *)(u + i)));
    if (_mm_movemask_epi8(acc)) return 0;
#endif
    uint8_t tail = 0;
    for (; i < n; i++) tail |= u[i];
    return tail < 0x80;
}

/* request_id / account_id: a string of at most 1024 code points with a character that is
 * not whitespace (so ``strip()`` leaves something; only ASCII is checked, else decline). */
static int id_ok(Ctx *c, const Val *v) {
    if (v->type != V_STR) return 0;
    const uint8_t *s = (const uint8_t *)c->dec.p + v->off;
    int solid = 0;
    for (size_t i = 0; i < v->len; i++)
        if (s[i] < 0x80 && !py_ascii_space(s[i])) { solid = 1; break; }
    return solid && code_points(c->dec.p + v->off, v->len) <= MAX_ID_CHARS;
}

static int opt_str(const Val *v) { return is_null(v) || v->type == V_STR; }

/* Epoch µs of ``timestamp`` / ``account_created_at``: int epoch ms or strict RFC 3339. */
static int ts_us(Ctx *c, const Val *v, int64_t *out) {
    if (v->type == V_INT) {
        if (v->i > 9000000000000000LL || v->i < -9000000000000000LL) return DECLINE;
        *out = v->i * 1000;
        return 0;
    }
    if (v->type == V_STR) return rfc3339_us(c->dec.p + v->off, v->len, out) ? DECLINE : 0;
    return DECLINE;
}

/* Dotted IPv4 with canonical octets (fastpath._IPV4): length of its "a.b.c" head, else 0. */
static size_t ipv4_head(const char *s, size_t n) {
    size_t i = 0, head = 0;
    for (int oct = 0; oct < 4; oct++) {
        size_t st = i;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - st < 4) i++;
        size_t k = i - st;
        if (k == 0 || k > 3 || (k > 1 && s[st] == '0')) return 0;
        int val = 0;
        for (size_t j = st; j < i; j++) val = val * 10 + (s[j] - '0');
        if (val > 255) return 0;
        if (oct < 3) {
            if (i >= n || s[i] != '.') return 0;
            if (oct == 2) head = i;
            i++;
        }
    }
    return i == n ? head : 0;
}

typedef struct {
    Col cols[N_COLS];
    Buf accepted;     /* int64 line index per accepted row */
    Buf prompt_fixup; /* int64 row index whose prompt hash Python computes (non-ASCII) */
    Buf ip_fixup;     /* int64 row index whose ip prefix Python computes */
    int64_t rows;
} Out;

/* Canonical prompt form of an ASCII text (fastpath.fast_prompt_hash): lower-cased words
 * separated by single spaces; appended to ``b``. ``s`` may point into ``b``: the caller
 * reserves n bytes first, so that the reserve below cannot move it. */
static int canon_ascii(Buf *b, const uint8_t *s, size_t n) {
    if (buf_reserve(b, n)) return FAIL;
    char *o = b->p + b->n, *start = o;
#if defined(__SSE2__)
    /* common case: no byte < 0x20, no two spaces in a row, no space at either end: the
     * canonical form is the lower-cased text */
    if (n && s[0] != ' ' && s[n - 1] != ' ') {
        const __m128i space = _mm_set1_epi8(' '), a = _mm_set1_epi8('A' - 1);
        const __m128i z = _mm_set1_epi8('Z' + 1), bit = _mm_set1_epi8(0x20);
        unsigned prev = 0;
        size_t i = 0;
        int simple = 1;
        for (; i + 16 <= n; i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
            unsigned sp = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, space));
            if (_mm_movemask_epi8(_mm_cmplt_epi8(v, space)) || (sp & ((sp << 1) | prev))) {
                simple = 0;
                break;
            }
            prev = sp >> 15;
            __m128i up = _mm_and_si128(_mm_cmpgt_epi8(v, a), _mm_cmplt_epi8(v, z));
            _mm_storeu_si128((__m128i *)(o + i), _mm_or_si128(v, _mm_and_si128(up, bit)));
        }
        for (; simple && i < n; i++) {
            uint8_t ch = s[i];
            unsigned sp = ch == ' ';
            if (ch < 0x20 || (sp && prev)) { simple = 0; break; }
            prev = sp;
            o[i] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
        }
        if (simple) {
            b->n += n;
            return 0;
        }
    }
#endif
    int pending = 0, any = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = s[i];
        if (py_ascii_space(ch)) {
            pending = any;
            continue;
        }
        if (pending) { *o++ = ' '; pending = 0; }
        *o++ = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
        any = 1;
    }
    b->n += (size_t)(o - start);
    return 0;
}

static int join_turns(Ctx *c, int kind, const Span *first, Span *out) {
    const Span *t = (const Span *)c->turns.p;
    size_t nt = c->turns.n / sizeof(Span);
    size_t start = c->dec.n, parts = 0;
    if (first) {
        if (buf_reserve(&c->dec, first->len)) return FAIL;
        memcpy(c->dec.p + c->dec.n, c->dec.p + first->off, first->len);
        c->dec.n += first->len;
        parts++;
    }
    for (size_t i = 0; i < nt; i++) {
        if ((int)(t[i].len >> 62) != kind) continue;
        size_t len = t[i].len & (((size_t)1 << 62) - 1);
        if (parts++ && buf_byte(&c->dec, '\n')) return FAIL;
        if (buf_reserve(&c->dec, len)) return FAIL;
        memcpy(c->dec.p + c->dec.n, c->dec.p + t[i].off, len);
        c->dec.n += len;
    }
    *out = parts ? (Span){start, c->dec.n - start} : NOSPAN;
    return 0;
}

static int put_span(Ctx *c, Col *col, const Val *v) {
    if (v->type != V_STR) return col_null(col);
    return col_str(col, c->dec.p + v->off, v->len);
}

static int put_hash(Col *col, const char *s, size_t n) {
    char hex[16];
    blake2b64_hex((const uint8_t *)s, n, hex);
    return col_str(col, hex, 16);
}

/* Parse one line into ``r``: 0 accepted, DECLINE, or FAIL. */
static int scan_record(Ctx *c, Rec *r, int64_t min_us, int64_t max_us, int64_t *ts) {
    memset(r, 0, sizeof *r);
    c->dec.n = c->out.n = c->turns.n = 0;
    skip_ws(c);
    if (c->pos >= c->n || c->s[c->pos] != '{') return DECLINE;
    c->pos++;
    int seen[N_TOP] = {0}, rc;
    skip_ws(c);
    if (c->pos < c->n && c->s[c->pos] == '}') return DECLINE;
    for (;;) {
        skip_ws(c);
        if (c->pos >= c->n || c->s[c->pos] != '"') return DECLINE;
        Val k;
        if ((rc = parse_string(c, &k))) return rc;
        int which = match_key(c, &k, TOP_KEYS, N_TOP);
        if (which < 0 || seen[which]) return DECLINE; /* unknown key: metadata_json; dup */
        seen[which] = 1;
        skip_ws(c);
        if (c->pos >= c->n || c->s[c->pos] != ':') return DECLINE;
        c->pos++;
        skip_ws(c);
        if (c->pos >= c->n) return DECLINE;
        uint8_t ch = c->s[c->pos];
        if (which == T_REQUEST) {
            if (ch != '{') return DECLINE;
            if ((rc = parse_request(c, r, 1))) return rc;
            r->top[which].type = V_OBJ;
        } else if (which == T_RESPONSE && ch == '{') {
            if ((rc = parse_response(c, r))) return rc;
        } else if (which == T_USAGE && ch == '{') {
            if ((rc = parse_usage(c, r))) return rc;
        } else if (which == T_METADATA) { /* any value: metadata_json keeps it */
            r->meta_off = c->out.n;
            if ((rc = parse_value(c, &r->top[which], 1, 1, NULL))) return rc;
            r->meta_len = c->out.n - r->meta_off;
        } else {
            if ((rc = parse_value(c, &r->top[which], 0, 1, NULL))) return rc;
            if (r->top[which].type == V_OBJ || r->top[which].type == V_ARR) return DECLINE;
        }
        if ((rc = next_item(c, '}')) <= 0) {
            if (rc) return rc;
            break;
        }
    }
    skip_ws(c);
    if (c->pos != c->n) return DECLINE;
    if (!seen[T_REQUEST]) return DECLINE;
    if (!id_ok(c, &r->top[T_REQUEST_ID]) || !id_ok(c, &r->top[T_ACCOUNT_ID])) return DECLINE;
    if (ts_us(c, &r->top[T_TIMESTAMP], ts) || *ts < min_us || *ts > max_us) return DECLINE;
    for (int t = T_ORG_ID; t <= T_PAYMENT_FP; t++)
        if (!opt_str(&r->top[t])) return DECLINE;
    const Val *lat = &r->top[T_LATENCY];
    if (!is_null(lat) && lat->type != V_INT && lat->type != V_FLOAT) return DECLINE;
    return 0;
}

/* metadata_json as normalize._metadata makes it without flags or unknown keys: the metadata
 * object itself (null when empty), or {"metadata": value} for a value of another type. */
static int put_metadata(Ctx *c, Rec *r, Col *col) {
    const Val *m = &r->top[T_METADATA];
    if (is_null(m) || (m->type == V_OBJ && !m->truthy)) return col_null(col);
    if (m->type == V_OBJ) return col_str(col, c->out.p + r->meta_off, r->meta_len);
    static const char head[] = "{\"metadata\":";
    size_t k = sizeof head - 1, start = c->out.n;
    if (buf_reserve(&c->out, k + r->meta_len + 1)) return FAIL;
    memcpy(c->out.p + c->out.n, head, k);
    memcpy(c->out.p + c->out.n + k, c->out.p + r->meta_off, r->meta_len);
    c->out.p[c->out.n + k + r->meta_len] = '}';
    c->out.n += k + r->meta_len + 1;
    return col_str(col, c->out.p + start, c->out.n - start);
}

/* Append the accepted record ``r`` to the columns. */
static int emit_row(Ctx *c, Rec *r, Out *o, int64_t ts) {
    Col *col = o->cols;
    double fv = 0;
    int rc, b;
    /* values first (anything that declines must do so before a column is touched) */
    int64_t created = 0;
    int has_created = !is_null(&r->top[T_CREATED]);
    if (has_created) {
        if (ts_us(c, &r->top[T_CREATED], &created)) return DECLINE;
        if (!(created > -62135596800000000LL && created < 253402300799000000LL)) return DECLINE;
    }
    /* response (normalize.response_fields; no choices) */
    int has_resp = r->top[T_RESPONSE].type == V_OBJ;
    if (!has_resp && !is_null(&r->top[T_RESPONSE])) return DECLINE;
    int has_status = 0, has_out = 0;
    int64_t status = 0, out_chars = 0;
    const Val *finish = NULL;
    if (has_resp) {
        if (!is_null(&r->choices)) return DECLINE;
        const Val *st = &r->status;
        if (st->type == V_TRUE || st->type == V_FALSE || is_null(st)) st = &r->status_code;
        if (st->type == V_INT) {
            has_status = st->i >= 0 && st->i < 1000;
            status = st->i;
        } else if (!(is_null(st) || st->type == V_TRUE || st->type == V_FALSE)) {
            return DECLINE; /* as_int would coerce floats and strings */
        }
        if (r->finish.type == V_STR) finish = &r->finish;
        if (r->output_text.type == V_STR) {
            has_out = 1;
            out_chars = (int64_t)code_points(c->dec.p + r->output_text.off, r->output_text.len);
        }
    }
    /* usage (fastpath._usage) */
    int64_t pt = 0, ct = 0, rt = 0;
    int has_pt = 0, has_ct = 0, has_rt = 0;
    int has_usage = r->top[T_USAGE].type == V_OBJ;
    if (!has_usage && !is_null(&r->top[T_USAGE])) return DECLINE;
    if (has_usage) {
        if ((has_rt = token_count(&r->u_reasoning, NULL, &rt)) < 0) return DECLINE;
        if (!has_rt) {
            const Val *det[2] = {&r->u_ctd, &r->u_otd};
            const Val *inner[2] = {&r->ctd_reasoning, &r->otd_reasoning};
            for (int k = 0; k < 2 && !has_rt; k++) {
                if (det[k]->type != V_OBJ) continue;
                if ((has_rt = opt_int(inner[k], &rt)) < 0) return DECLINE;
            }
        }
        if ((has_pt = token_count(&r->u_prompt, &r->u_input, &pt)) < 0) return DECLINE;
        if ((has_ct = token_count(&r->u_completion, &r->u_output, &ct)) < 0) return DECLINE;
    }
    /* request parameters (fastpath._params) */
    int64_t max_tokens = 0;
    int has_max = 0;
    for (int k = R_MAX_TOKENS; k <= R_MAX_OUTPUT && !has_max; k++)
        if ((has_max = opt_int(&r->req[k], &max_tokens)) < 0) return DECLINE;
    double temperature = 0, top_p = 0;
    int has_temp, has_top_p;
    if ((has_temp = opt_float(&r->req[R_TEMPERATURE], &temperature)) < 0) return DECLINE;
    if ((has_top_p = opt_float(&r->req[R_TOP_P], &top_p)) < 0) return DECLINE;
    int64_t n = 1, top_lp = 0, seed = 0;
    int has_top_lp, has_seed;
    if (opt_int(&r->req[R_N], &n) < 0) return DECLINE;
    if ((has_top_lp = opt_int(&r->req[R_TOP_LOGPROBS], &top_lp)) < 0) return DECLINE;
    int logprobs = 0, stream = 0;
    const Val *lp = &r->req[R_LOGPROBS];
    if (lp->type == V_INT) { /* legacy completions: a count */
        logprobs = lp->i > 0;
        if (!has_top_lp && lp->i > 0) { top_lp = lp->i; has_top_lp = 1; }
    } else if (opt_bool(lp, &logprobs) < 0) {
        return DECLINE;
    }
    if (opt_bool(&r->req[R_STREAM], &stream) < 0) return DECLINE;
    if ((has_seed = opt_int(&r->req[R_SEED], &seed)) < 0) return DECLINE;
    if (n < INT32_MIN || n > INT32_MAX || (has_top_lp && (top_lp < INT32_MIN || top_lp > INT32_MAX)))
        return DECLINE;
    const Val *effort = &r->req[R_EFFORT];
    if (effort->type != V_STR) effort = r->req[R_REASONING].type == V_OBJ ? &r->effort_in_reasoning : NULL;
    if (effort && effort->type != V_STR) effort = NULL;
    const Val *rf = &r->req[R_RESPONSE_FORMAT];
    if (rf->type == V_OBJ) rf = &r->rf_type;
    if (is_null(rf)) {
        rf = (r->req[R_TEXT].type == V_OBJ) ? &r->text_format_type : NULL;
    }
    if (rf && rf->type != V_STR) rf = NULL;
    int has_tools = r->req[R_TOOLS].truthy || r->req[R_FUNCTIONS].truthy;
    const Val *end_user = NULL;
    if (!(is_null(&r->req[R_USER]) && is_null(&r->req[R_SAFETY_ID]))) {
        if (r->req[R_USER].type == V_STR && r->req[R_USER].len) end_user = &r->req[R_USER];
        else if (r->req[R_SAFETY_ID].type == V_STR && r->req[R_SAFETY_ID].len)
            end_user = &r->req[R_SAFETY_ID];
    }
    /* turns: prompt and system texts (without messages: prompt, else input, as read_turns) */
    if (r->req[R_MESSAGES].type != V_ARR) {
        const Val *body[2] = {&r->req[R_PROMPT], &r->req[R_INPUT]};
        for (int k = 0; k < 2; k++) {
            if (is_null(body[k])) continue;
            if (body[k]->type == V_ARR) return DECLINE; /* parts, items or tokens */
            if (body[k]->type == V_STR) {
                Span tagged = {body[k]->off, body[k]->len | ((size_t)1 << 62)};
                if (buf_put(&c->turns, &tagged, sizeof tagged)) return FAIL;
                r->n_messages = r->n_user = 1;
            }
            break;
        }
    }
    Span first = NOSPAN;
    const Val *ins = &r->req[R_INSTRUCTIONS];
    if (ins->type == V_STR) first = (Span){ins->off, ins->len};
    Span prompt, system;
    if ((rc = join_turns(c, 1, NULL, &prompt))) return rc;
    if (prompt.off == SIZE_MAX) prompt = (Span){0, 0};
    if ((rc = join_turns(c, 2, first.off == SIZE_MAX ? NULL : &first, &system))) return rc;
    if (prompt.len > (size_t)INT32_MAX || r->req_len > (size_t)INT32_MAX) return DECLINE;

    /* columns */
    int64_t row = o->rows;
    const char *dec = c->dec.p;
    if (put_span(c, &col[C_REQUEST_ID], &r->top[T_REQUEST_ID]) || col_i64(&col[C_TS], ts) ||
        put_span(c, &col[C_ACCOUNT_ID], &r->top[T_ACCOUNT_ID]) ||
        put_span(c, &col[C_ORG_ID], &r->top[T_ORG_ID]) ||
        put_span(c, &col[C_API_KEY_ID], &r->top[T_API_KEY_ID]) ||
        put_span(c, &col[C_ENDPOINT], &r->top[T_ENDPOINT]) ||
        put_span(c, &col[C_MODEL], &r->top[T_MODEL]) ||
        put_span(c, &col[C_CLIENT_IP], &r->top[T_CLIENT_IP]))
        return FAIL;
    const Val *ip = &r->top[T_CLIENT_IP];
    if (ip->type == V_STR && ip->len) {
        size_t head = ipv4_head(dec + ip->off, ip->len);
        if (head) {
            char pre[32];
            memcpy(pre, dec + ip->off, head);
            memcpy(pre + head, ".0/24", 5);
            rc = col_str(&col[C_IP_PREFIX], pre, head + 5);
        } else {
            rc = col_null(&col[C_IP_PREFIX]) || buf_put(&o->ip_fixup, &row, 8);
        }
    } else {
        rc = col_null(&col[C_IP_PREFIX]);
    }
    if (rc || put_span(c, &col[C_USER_AGENT], &r->top[T_USER_AGENT]) ||
        put_span(c, &col[C_PAYMENT_FP], &r->top[T_PAYMENT_FP]) ||
        (has_created ? col_i64(&col[C_CREATED], created) : col_null(&col[C_CREATED])) ||
        col_i32(&col[C_N_MESSAGES], r->n_messages) || col_i32(&col[C_N_USER], r->n_user))
        return FAIL;
    if (system.off == SIZE_MAX) {
        if (col_null(&col[C_SYSTEM]) || col_null(&col[C_SYSTEM_HASH])) return FAIL;
    } else if (col_str(&col[C_SYSTEM], dec + system.off, system.len) ||
               put_hash(&col[C_SYSTEM_HASH], dec + system.off, system.len)) {
        return FAIL;
    }
    if (col_str(&col[C_PROMPT], dec + prompt.off, prompt.len)) return FAIL;
    int ascii = all_ascii(dec + prompt.off, prompt.len);
    if (ascii) {
        size_t mark = c->dec.n;
        /* reserve first: the source pointer must be taken after any reallocation of dec */
        if (buf_reserve(&c->dec, prompt.len) ||
            canon_ascii(&c->dec, (const uint8_t *)c->dec.p + prompt.off, prompt.len))
            return FAIL;
        dec = c->dec.p;
        rc = put_hash(&col[C_PROMPT_HASH], dec + mark, c->dec.n - mark);
        c->dec.n = mark;
    } else {
        rc = col_null(&col[C_PROMPT_HASH]) || buf_put(&o->prompt_fixup, &row, 8);
    }
    if (rc || col_i64(&col[C_PROMPT_CHARS], (int64_t)(ascii ? prompt.len
                                                      : code_points(dec + prompt.off, prompt.len))) ||
        (has_max ? col_i64(&col[C_MAX_TOKENS], max_tokens) : col_null(&col[C_MAX_TOKENS])) ||
        (has_temp ? col_f64(&col[C_TEMPERATURE], temperature) : col_null(&col[C_TEMPERATURE])) ||
        (has_top_p ? col_f64(&col[C_TOP_P], top_p) : col_null(&col[C_TOP_P])) ||
        col_i32(&col[C_N], (int32_t)n) || col_bool(&col[C_LOGPROBS], logprobs) ||
        (has_top_lp ? col_i32(&col[C_TOP_LOGPROBS], (int32_t)top_lp)
                    : col_null(&col[C_TOP_LOGPROBS])) ||
        col_bool(&col[C_STREAM], stream) ||
        (has_seed ? col_i64(&col[C_SEED], seed) : col_null(&col[C_SEED])) ||
        (effort ? put_span(c, &col[C_EFFORT], effort) : col_null(&col[C_EFFORT])) ||
        col_bool(&col[C_HAS_TOOLS], has_tools) ||
        (rf ? put_span(c, &col[C_RESPONSE_FORMAT], rf) : col_null(&col[C_RESPONSE_FORMAT])))
        return FAIL;
    if (end_user) rc = put_hash(&col[C_END_USER_HASH], dec + end_user->off, end_user->len);
    else rc = col_null(&col[C_END_USER_HASH]);
    if (rc || (has_status ? col_i32(&col[C_STATUS], (int32_t)status) : col_null(&col[C_STATUS])) ||
        (finish ? put_span(c, &col[C_FINISH], finish) : col_null(&col[C_FINISH])) ||
        (has_out ? col_i64(&col[C_OUTPUT_CHARS], out_chars) : col_null(&col[C_OUTPUT_CHARS])) ||
        (has_pt ? col_i64(&col[C_PROMPT_TOKENS], pt) : col_null(&col[C_PROMPT_TOKENS])) ||
        (has_ct ? col_i64(&col[C_COMPLETION_TOKENS], ct) : col_null(&col[C_COMPLETION_TOKENS])) ||
        (has_rt ? col_i64(&col[C_REASONING_TOKENS], rt) : col_null(&col[C_REASONING_TOKENS])))
        return FAIL;
    const Val *lat = &r->top[T_LATENCY];
    if (lat->type == V_INT) { fv = (double)lat->i; b = 1; }
    else if (lat->type == V_FLOAT) { fv = lat->f; b = 1; }
    else b = 0;
    if ((b ? col_f64(&col[C_LATENCY], fv) : col_null(&col[C_LATENCY])) ||
        col_str(&col[C_REQUEST_JSON], c->out.p + r->req_off, r->req_len) ||
        (has_resp ? col_str(&col[C_RESPONSE_JSON], c->out.p + r->resp_off, r->resp_len)
                  : col_null(&col[C_RESPONSE_JSON])) ||
        put_metadata(c, r, &col[C_METADATA_JSON]))
        return FAIL;
    o->rows++;
    return 0;
}

/* ---------------------------------------------------------------- Python entry point */

static PyObject *bytes_of(Buf *b) {
    return PyBytes_FromStringAndSize(b->p ? b->p : "", (Py_ssize_t)b->n);
}

static PyObject *col_result(Col *c) {
    PyObject *valid = bytes_of(&c->valid);
    PyObject *data = bytes_of(&c->data);
    PyObject *offs = c->kind == K_STR ? bytes_of(&c->offs) : (Py_INCREF(Py_None), Py_None);
    if (!valid || !data || !offs) {
        Py_XDECREF(valid); Py_XDECREF(data); Py_XDECREF(offs);
        return NULL;
    }
    return Py_BuildValue("(iNNN)", c->kind, valid, offs, data);
}

/* Column byte sizes before a record, to roll back a record that declines midway. */
typedef struct {
    size_t data[N_COLS], offs[N_COLS], valid[N_COLS], ip, prompt;
} Marks;

static void mark(Out *o, Marks *m) {
    for (int i = 0; i < N_COLS; i++) {
        m->data[i] = o->cols[i].data.n;
        m->offs[i] = o->cols[i].offs.n;
        m->valid[i] = o->cols[i].valid.n;
    }
    m->ip = o->ip_fixup.n;
    m->prompt = o->prompt_fixup.n;
}

static void rollback(Out *o, const Marks *m) {
    for (int i = 0; i < N_COLS; i++) {
        o->cols[i].data.n = m->data[i];
        o->cols[i].offs.n = m->offs[i];
        o->cols[i].valid.n = m->valid[i];
    }
    o->ip_fixup.n = m->ip;
    o->prompt_fixup.n = m->prompt;
}

/* Buffers kept between calls (the GIL serialises calls; nothing here releases it), so that a
 * batch reuses the memory of the previous one instead of faulting in fresh pages. */
static Out KEEP_OUT;
static Ctx KEEP_CTX;
static int KEEP_READY = 0;
/* Memory kept between calls at most, per buffer. */
#define KEEP_MAX ((size_t)64 << 20)

static void trim(Buf *b) {
    if (b->cap > KEEP_MAX) buf_free(b);
    b->n = 0;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    PyObject *lines;
    long long min_us, max_us;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!LL", &PyList_Type, &lines, &min_us, &max_us)) return NULL;
    if (!KEEP_READY) {
        memset(&KEEP_OUT, 0, sizeof KEEP_OUT);
        memset(&KEEP_CTX, 0, sizeof KEEP_CTX);
        KEEP_READY = 1;
    }
    Out *op = &KEEP_OUT;
    Ctx *cp = &KEEP_CTX;
#define o (*op)
#define c (*cp)
    PyObject *result = NULL;
    int failed = 0;
    for (int i = 0; i < N_COLS; i++) {
        Buf data = o.cols[i].data, offs = o.cols[i].offs, valid = o.cols[i].valid;
        o.cols[i].kind = COL_KIND[i];
        o.cols[i].data = data;
        o.cols[i].offs = offs;
        o.cols[i].valid = valid;
        o.cols[i].data.n = o.cols[i].offs.n = o.cols[i].valid.n = 0;
        if (COL_KIND[i] == K_STR) {
            int32_t zero = 0;
            if (buf_put(&o.cols[i].offs, &zero, 4)) failed = 1;
        }
    }
    o.accepted.n = o.prompt_fixup.n = o.ip_fixup.n = 0;
    o.rows = 0;
    Py_ssize_t nlines = PyList_GET_SIZE(lines);
    Rec *r = (Rec *)PyMem_Malloc(sizeof(Rec));
    if (!r) failed = 1;
    for (Py_ssize_t li = 0; li < nlines && !failed; li++) {
        PyObject *item = PyList_GET_ITEM(lines, li);
        if (!PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError, "lines[%zd]: expected bytes, got %s", li,
                         Py_TYPE(item)->tp_name);
            goto done;
        }
        c.s = (const uint8_t *)PyBytes_AS_STRING(item);
        c.n = (size_t)PyBytes_GET_SIZE(item);
        c.pos = 0;
        int64_t ts = 0;
        int rc = scan_record(&c, r, min_us, max_us, &ts);
        if (rc == 0) {
            Marks m;
            mark(&o, &m);
            rc = emit_row(&c, r, &o, ts);
            if (rc) rollback(&o, &m);
            if (rc == 0) {
                int64_t at = li;
                if (buf_put(&o.accepted, &at, 8)) rc = FAIL;
            }
        }
        if (rc == FAIL) failed = 1;
    }
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *cols = PyList_New(N_COLS);
    if (!cols) goto done;
    for (int i = 0; i < N_COLS; i++) {
        PyObject *t = col_result(&o.cols[i]);
        if (!t) { Py_DECREF(cols); goto done; }
        PyList_SET_ITEM(cols, i, t);
    }
    result = Py_BuildValue("(LNNNN)", (long long)o.rows, bytes_of(&o.accepted), cols,
                           bytes_of(&o.prompt_fixup), bytes_of(&o.ip_fixup));
done:
    for (int i = 0; i < N_COLS; i++) {
        trim(&o.cols[i].data);
        trim(&o.cols[i].offs);
        trim(&o.cols[i].valid);
    }
    trim(&o.accepted);
    trim(&o.prompt_fixup);
    trim(&o.ip_fixup);
    trim(&c.dec);
    trim(&c.out);
    trim(&c.turns);
    c.s = NULL;
    PyMem_Free(r);
    return result;
#undef o
#undef c
}

static PyObject *py_blake2b64(PyObject *self, PyObject *arg) {
    (void)self;
    char *s;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(arg, &s, &n)) return NULL;
    char hex[16];
    blake2b64_hex((const uint8_t *)s, (size_t)n, hex);
    return PyUnicode_FromStringAndSize(hex, 16);
}

/* id_keys(offsets, data, offset, n): blake2b-128 digests of n strings of an Arrow string
 * array (int32 offsets buffer, data buffer, array offset), concatenated (n * 16 bytes). */
static PyObject *py_id_keys(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer offs, data;
    Py_ssize_t offset, n;
    if (!PyArg_ParseTuple(args, "y*y*nn", &offs, &data, &offset, &n)) return NULL;
    PyObject *out = NULL;
    if (offset < 0 || n < 0 || (size_t)offs.len < (size_t)(offset + n + 1) * 4) {
        PyErr_SetString(PyExc_ValueError, "id_keys: offsets buffer shorter than offset + n + 1");
        goto done;
    }
    const int32_t *o = (const int32_t *)offs.buf + offset;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (o[i] < 0 || o[i + 1] < o[i] || (Py_ssize_t)o[i + 1] > data.len) {
            PyErr_Format(PyExc_ValueError, "id_keys: string %zd is outside the data buffer", i);
            goto done;
        }
    }
    out = PyBytes_FromStringAndSize(NULL, n * 16);
    if (!out) goto done;
    uint8_t *dst = (uint8_t *)PyBytes_AS_STRING(out);
    const uint8_t *base = (const uint8_t *)data.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t h[8];
        blake2b(base + o[i], (size_t)(o[i + 1] - o[i]), h, 16);
        for (int w = 0; w < 2; w++)
            for (int b = 0; b < 8; b++) dst[i * 16 + w * 8 + b] = (uint8_t)(h[w] >> (8 * b));
    }
done:
    PyBuffer_Release(&offs);
    PyBuffer_Release(&data);
    return out;
}

static PyMethodDef METHODS[] = {
    {"id_keys", py_id_keys, METH_VARARGS,
     "id_keys(offsets, data, offset, n) -> bytes: blake2b-128 of each string, concatenated"},
    {"scan", scan, METH_VARARGS,
     "scan(lines, min_ts_us, max_ts_us) -> (rows, accepted, columns, prompt_fixup, ip_fixup)"},
    {"blake2b64", py_blake2b64, METH_O, "blake2b64(data: bytes) -> hex of blake2b, 8 bytes"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_scan",
                                    "Compiled scanner of native log lines (see scan.py).", -1,
                                    METHODS, NULL, NULL, NULL, NULL};

/* COLUMNS: ((lake name, kind), ...) in row order, for scan.py to check against REQUEST_SCHEMA. */
static PyObject *column_table(void) {
    PyObject *t = PyTuple_New(N_COLS);
    if (!t) return NULL;
    for (int i = 0; i < N_COLS; i++) {
        PyObject *item = Py_BuildValue("(si)", COL_LAKE[i], COL_KIND[i]);
        if (!item) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, item);
    }
    return t;
}

PyMODINIT_FUNC PyInit__scan(void) {
    PyObject *m = PyModule_Create(&MODULE);
    if (!m) return NULL;
    PyObject *cols = column_table();
    if (!cols || PyModule_AddObject(m, "COLUMNS", cols) < 0) {
        Py_XDECREF(cols);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
