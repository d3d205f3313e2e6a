/*
 * uv-http-server.c - the HTTP benchmark's server on libuv, in C: what libuv
 * itself achieves, with no JavaScript above it (Node's loop is libuv; this is
 * the same loop without Node).
 *
 * The same server as http-server.c, written the way libuv is meant to be
 * used: one uv_tcp_t per connection, uv_read_start() with an alloc callback
 * that hands libuv the free end of the connection's 16 KiB input buffer, the
 * same request scanning (http-request.h: every pipelined request of a read
 * answered, in one write), the same bytes out. A response batch goes out with
 * uv_try_write() first and, only for what the socket did not take, a
 * uv_write() — what Node's streams do (StreamBase::Write tries first), and
 * what saves a write request and a callback per response. While a uv_write()
 * is in flight the connection does not read (uv_read_stop), as the epoll
 * server does not read while output is pending. Connection: close and errors
 * end with uv_shutdown() and then discard input until EOF, as there.
 *
 * libuv's own choices stay libuv's: level-triggered epoll, its accept loop,
 * its reads (a second one in the same turn only when the first filled the
 * buffer), its reserve descriptor for EMFILE.
 *
 *   usage: uv-http-server --port N [--host 127.0.0.1]
 *
 * Prints "listening on HOST:PORT" once listening; exits 0 on SIGINT/SIGTERM.
 *
 * Build: cc -O2 -Wall -Wextra -o uv-http-server uv-http-server.c -luv
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http-request.h"
#include "uv-server.h"

#define READ_BUF_SIZE (16 * 1024) /* per-connection input buffer */

struct conn {
    uv_tcp_t tcp;       /* first: the handle's address is the connection's */
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    int closing;        /* last response queued: shut down once it is written */
    int draining;       /* write side shut down, discarding input until EOF */
    uint64_t body_left; /* request body bytes still to be skipped */
    struct out_queue out; /* one read's responses */
    size_t in_len;
    char in[READ_BUF_SIZE];
};

static void on_closed(uv_handle_t *h)
{
    struct conn *c = (struct conn *)h;
    free(c->out.data);
    free(c);
}

static void close_conn(struct conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    if (status < 0)
        close_conn(req->data);
}

/* Everything is written: shut the write side down if the last response closes. */
static void output_done(struct conn *c)
{
    c->out.len = c->out.off = 0;
    if (!c->closing)
        return;
    /* Not uv_close() straight away: with unread input queued the kernel would
     * answer with a RST, which can destroy the response before the client
     * reads it. Send FIN, then discard input until the client closes. */
    c->closing = 0;
    c->draining = 1;
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
        close_conn(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_written(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    if (status < 0) {
        close_conn(c);
        return;
    }
    output_done(c);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        close_conn(c);
}

/* One read's responses: what the socket takes now, the rest through uv_write(). */
static void flush_output(struct conn *c)
{
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned int)c->out.len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == UV_EAGAIN)
        n = 0;
    if (n < 0) {
        close_conn(c); /* EPIPE, ECONNRESET, ... */
        return;
    }
    c->out.off = (size_t)n;
    if (c->out.off == c->out.len) {
        output_done(c);
        return;
    }
    b = uv_buf_init(c->out.data + c->out.off, (unsigned int)(c->out.len - c->out.off));
    c->write_req.data = c;
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0 ||
        uv_read_stop((uv_stream_t *)&c->tcp) < 0)
        close_conn(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct conn *c = (struct conn *)h;
    *buf = uv_buf_init(c->in + c->in_len, (unsigned int)(sizeof c->in - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct conn *c = (struct conn *)s;
    if (nread < 0) {
        close_conn(c); /* UV_EOF, ECONNRESET, ... */
        return;
    }
    if (nread == 0)
        return; /* EAGAIN */
    if (c->draining)
        return; /* c->in_len stays 0: thrown away, we are waiting for EOF */
    c->in_len += (size_t)nread;

    int closing = answer_requests(c->in, &c->in_len, &c->body_left, &c->out);
    if (closing < 0) {
        close_conn(c);
        return;
    }
    if (closing)
        c->closing = 1;
    if (c->out.len > 0)
        flush_output(c); /* all responses of this read in one write */
}

static void on_connection(uv_stream_t *server, int status)
{
    accept_conn(server, status, sizeof(struct conn), on_alloc, on_read);
}

int main(int argc, char **argv)
{
    static const struct uv_server spec = {
        .name = "uv-http-server",
        .on_connection = on_connection,
        .on_conn_closed = on_closed,
    };
    return uv_server_main(argc, argv, &spec);
}
