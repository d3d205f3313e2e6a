/*
 * http-request.h - the HTTP/1.1 request handling the two C HTTP servers share
 * (http-server.c on epoll, uv-http-server.c on libuv): the fixed responses,
 * the minimal request parser and the scan of a read buffer for complete
 * requests. Static functions, included by each server, so that each compiles
 * them into its own file (and inlines them) as if written there.
 *
 * Only what the benchmark's servers need is looked at: the request line's
 * shape, Content-Length (bodies are skipped), Connection, and
 * Transfer-Encoding (refused). See bench/c/README.md, "Why the HTTP server is
 * written this way".
 */
#ifndef HTTP_REQUEST_H
#define HTTP_REQUEST_H

/* memmem() needs _GNU_SOURCE, defined by the includer before any header. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADER_SIZE (8 * 1024) /* request line + headers + blank line */

/* The fixed response. Every server in the comparison sends exactly these
 * bytes (no Date header, on purpose). */
static const char RESPONSE_OK[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "Connection: keep-alive\r\n"
    "\r\n"
    "Hello, World!";

/* Same response for a request that asked for the connection to be closed
 * (Connection: close, or HTTP/1.0 without keep-alive). */
static const char RESPONSE_OK_CLOSE[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "Connection: close\r\n"
    "\r\n"
    "Hello, World!";

static const char RESPONSE_400[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Length: 0\r\n"
    "Connection: close\r\n"
    "\r\n";

static const char RESPONSE_431[] =
    "HTTP/1.1 431 Request Header Fields Too Large\r\n"
    "Content-Length: 0\r\n"
    "Connection: close\r\n"
    "\r\n";

static int is_tchar(unsigned char ch)
{
    return isalnum(ch) || (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Case-insensitive "does the comma-separated list [v, end) contain token?" */
static int has_token(const char *v, const char *end, const char *token)
{
    size_t tlen = strlen(token);
    while (v < end) {
        while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
            v++;
        const char *s = v;
        while (v < end && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tlen && strncasecmp(s, token, tlen) == 0)
            return 1;
    }
    return 0;
}

static int header_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

/*
 * Parse one request head: p[0..len) runs from the request line up to and
 * including the terminating "\r\n\r\n". Returns 0 on success, -1 for a
 * malformed request.
 */
static int parse_request(const char *p, size_t len, uint64_t *content_length,
                         int *keep_alive)
{
    const char *end = p + len - 2; /* the final CRLF */
    const char *eol = memmem(p, len, "\r\n", 2);
    const char *s = p;

    /* METHOD SP target SP HTTP/1.x */
    while (s < eol && is_tchar((unsigned char)*s))
        s++;
    if (s == p || s == eol || *s != ' ')
        return -1;
    const char *target = ++s;
    while (s < eol && (unsigned char)*s > ' ' && *s != 0x7f)
        s++;
    if (s == target || s == eol || *s != ' ')
        return -1;
    s++;
    if (eol - s != 8 || memcmp(s, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)s[7]))
        return -1;
    *keep_alive = s[7] != '0'; /* HTTP/1.1 defaults to keep-alive, 1.0 to close */
    *content_length = 0;

    for (const char *line = eol + 2; line < end; line = eol + 2) {
        eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (!colon || colon == line)
            return -1;
        size_t name_len = (size_t)(colon - line);
        const char *v = colon + 1, *vend = eol;
        while (v < vend && (*v == ' ' || *v == '\t'))
            v++;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;

        if (header_is(line, name_len, "content-length")) {
            if (v == vend || vend - v > 18)
                return -1;
            uint64_t n = 0;
            for (const char *d = v; d < vend; d++) {
                if (!isdigit((unsigned char)*d))
                    return -1;
                n = n * 10 + (uint64_t)(*d - '0');
            }
            *content_length = n;
        } else if (header_is(line, name_len, "transfer-encoding")) {
            return -1; /* chunked request bodies are not supported */
        } else if (header_is(line, name_len, "connection")) {
            if (has_token(v, vend, "close"))
                *keep_alive = 0;
            else if (has_token(v, vend, "keep-alive"))
                *keep_alive = 1;
        }
    }
    return 0;
}

/* What one read's worth of input asks for: `ok` keep-alive responses, in
 * order, then `last` (a closing 200, a 400 or a 431) if it is not NULL, after
 * which the connection closes. */
struct http_answers {
    size_t consumed; /* bytes of the input handled; the rest is a partial request */
    size_t ok;
    const char *last;
    size_t last_len;
};

static void answer_last(struct http_answers *a, const char *response, size_t len, size_t input_len)
{
    a->last = response;
    a->last_len = len;
    a->consumed = input_len; /* anything after it is ignored */
}

/*
 * Scan in[0..len) for complete requests (pipelined ones included), skipping
 * request bodies (*body_left carries a body's unread part over to the next
 * read). An over-long head gets a 431, a malformed one a 400.
 */
static void scan_requests(const char *in, size_t len, uint64_t *body_left, struct http_answers *a)
{
    size_t pos = 0;
    a->ok = 0;
    a->last = NULL;
    a->last_len = 0;
    while (pos < len) {
        if (*body_left > 0) {
            size_t skip = len - pos;
            if (skip > *body_left)
                skip = (size_t)*body_left;
            pos += skip;
            *body_left -= skip;
            continue;
        }
        const char *start = in + pos;
        size_t avail = len - pos;
        const char *term = memmem(start, avail, "\r\n\r\n", 4);
        if (!term) {
            if (avail >= MAX_HEADER_SIZE) {
                answer_last(a, RESPONSE_431, sizeof RESPONSE_431 - 1, len);
                return;
            }
            break; /* incomplete request: wait for more */
        }
        size_t head_len = (size_t)(term - start) + 4;
        if (head_len > MAX_HEADER_SIZE) {
            answer_last(a, RESPONSE_431, sizeof RESPONSE_431 - 1, len);
            return;
        }
        uint64_t content_length;
        int keep_alive;
        if (parse_request(start, head_len, &content_length, &keep_alive) < 0) {
            answer_last(a, RESPONSE_400, sizeof RESPONSE_400 - 1, len);
            return;
        }
        pos += head_len;
        *body_left = content_length;
        if (!keep_alive) {
            answer_last(a, RESPONSE_OK_CLOSE, sizeof RESPONSE_OK_CLOSE - 1, len);
            return;
        }
        a->ok++;
    }
    a->consumed = pos;
}

/* Responses queued for writing: data[off..len). */
struct out_queue {
    char *data;
    size_t len, off, cap;
};

/* Queue bytes for the next write. Returns -1 if out of memory. */
static int queue_bytes(struct out_queue *q, const char *data, size_t len)
{
    if (q->len + len > q->cap) {
        size_t cap = q->cap ? q->cap : 4096;
        while (cap < q->len + len)
            cap *= 2;
        char *p = realloc(q->data, cap);
        if (!p)
            return -1;
        q->data = p;
        q->cap = cap;
    }
    memcpy(q->data + q->len, data, len);
    q->len += len;
    return 0;
}

/*
 * Answer every complete request in in[0..*in_len): queue the responses in Q
 * and keep the unparsed tail (a partial request) at the front of the buffer.
 * Returns 1 if the last response queued closes the connection, 0 if not, -1
 * if out of memory.
 */
static int answer_requests(char *in, size_t *in_len, uint64_t *body_left, struct out_queue *q)
{
    struct http_answers a;
    scan_requests(in, *in_len, body_left, &a);
    for (size_t i = 0; i < a.ok; i++)
        if (queue_bytes(q, RESPONSE_OK, sizeof RESPONSE_OK - 1) < 0)
            return -1;
    if (a.last && queue_bytes(q, a.last, a.last_len) < 0)
        return -1;
    memmove(in, in + a.consumed, *in_len - a.consumed);
    *in_len -= a.consumed;
    return a.last != NULL;
}

#endif
