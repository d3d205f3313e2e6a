/*
 * uv-echo-server.c - the echo benchmark's server on libuv, in C.
 *
 * The same server as echo-server.c on libuv's loop: libuv reads into one
 * shared 64 KiB buffer (the data only stays there during its callback), and
 * each read goes straight back with uv_try_write(). Only what the socket did
 * not take is copied out and sent with uv_write(), and the connection stops
 * reading (uv_read_stop) until that write completes, so a client that does not
 * read cannot make the server buffer without bound — as the epoll server waits
 * for EPOLLOUT before it reads again.
 *
 *   usage: uv-echo-server --port N [--host 127.0.0.1]
 *
 * Prints "listening on HOST:PORT" once listening; exits 0 on SIGINT/SIGTERM.
 *
 * Build: cc -O2 -Wall -Wextra -o uv-echo-server uv-echo-server.c -luv
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "uv-server.h"

#define READ_BUF_SIZE (64 * 1024)

struct conn {
    uv_tcp_t tcp;  /* first: the handle's address is the connection's */
    uv_write_t write_req;
    char *pending; /* what the socket did not take, in flight in write_req */
    size_t cap;
};

static char buf[READ_BUF_SIZE]; /* shared: data only stays here during one callback */

static void on_closed(uv_handle_t *h)
{
    struct conn *c = (struct conn *)h;
    free(c->pending);
    free(c);
}

static void close_conn(struct conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    *b = uv_buf_init(buf, sizeof buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

static void on_written(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    if (status < 0 || uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        close_conn(c);
}

/* Partial write: keep the rest and stop reading until it is written. */
static void write_rest(struct conn *c, const char *rest, size_t len)
{
    if (len > c->cap) {
        char *p = realloc(c->pending, len);
        if (!p) {
            close_conn(c);
            return;
        }
        c->pending = p;
        c->cap = len;
    }
    memcpy(c->pending, rest, len);
    uv_buf_t out = uv_buf_init(c->pending, (unsigned int)len);
    c->write_req.data = c;
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &out, 1, on_written) < 0 ||
        uv_read_stop((uv_stream_t *)&c->tcp) < 0)
        close_conn(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = (struct conn *)s;
    if (nread < 0) {
        close_conn(c); /* UV_EOF, ECONNRESET, ... */
        return;
    }
    if (nread == 0)
        return; /* EAGAIN */
    uv_buf_t out = uv_buf_init(b->base, (unsigned int)nread);
    int w = uv_try_write(s, &out, 1);
    if (w == UV_EAGAIN)
        w = 0;
    if (w < 0) {
        close_conn(c);
        return;
    }
    if (w < nread)
        write_rest(c, b->base + w, (size_t)(nread - w));
}

static void on_connection(uv_stream_t *server, int status)
{
    accept_conn(server, status, sizeof(struct conn), on_alloc, on_read);
}

int main(int argc, char **argv)
{
    static const struct uv_server spec = {
        .name = "uv-echo-server",
        .on_connection = on_connection,
        .on_conn_closed = on_closed,
    };
    return uv_server_main(argc, argv, &spec);
}
