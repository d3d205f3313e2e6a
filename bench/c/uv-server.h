/*
 * uv-server.h - what the two libuv servers (uv-http-server.c, uv-echo-server.c)
 * share: the command line, the listening socket, and a clean exit on SIGINT or
 * SIGTERM. Static functions, included by each server.
 *
 *   usage: NAME --port N [--host 127.0.0.1]
 *
 * Prints "listening on HOST:PORT" once the socket is listening (--port 0 picks
 * a free port and prints it), then runs the default loop. SIGINT or SIGTERM
 * closes every handle (each connection through the server's close callback,
 * which frees it), the loop runs out of handles, and the program exits 0.
 */
#ifndef UV_SERVER_H
#define UV_SERVER_H

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#define LISTEN_BACKLOG 4096

struct uv_server {
    const char *name;
    /* A new connection is pending on the listener: uv_accept() it. */
    uv_connection_cb on_connection;
    /* Frees a connection once libuv has closed it (at shutdown). */
    uv_close_cb on_conn_closed;
};

static uv_tcp_t listener;
static uv_signal_t sigint_watcher, sigterm_watcher;
static const struct uv_server *server_spec;

/* Report a libuv error and exit: only for the setup, where nothing can go on. */
static void uv_check(int err, const char *what)
{
    if (err < 0) {
        fprintf(stderr, "%s: %s: %s\n", server_spec->name, what, uv_strerror(err));
        exit(1);
    }
}

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (uv_is_closing(h))
        return;
    int ours = h == (uv_handle_t *)&listener || h == (uv_handle_t *)&sigint_watcher ||
               h == (uv_handle_t *)&sigterm_watcher;
    uv_close(h, ours ? NULL : server_spec->on_conn_closed);
}

static void on_stop_signal(uv_signal_t *w, int signum)
{
    (void)signum;
    uv_walk(w->loop, close_handle, NULL);
}

/*
 * Accept a pending connection into a new connection object of CONN_SIZE
 * bytes whose first member is its uv_tcp_t, with TCP_NODELAY, reading through
 * ON_ALLOC and ON_READ. Returns it, or NULL when the accept failed (the object
 * is then closed, or was never made).
 */
static uv_tcp_t *accept_conn(uv_stream_t *server, int status, size_t conn_size, uv_alloc_cb on_alloc,
                             uv_read_cb on_read)
{
    if (status < 0)
        return NULL; /* libuv already did the EMFILE dance; nothing to accept */
    uv_tcp_t *tcp = calloc(1, conn_size);
    if (!tcp)
        return NULL;
    if (uv_tcp_init(server->loop, tcp) < 0) {
        free(tcp);
        return NULL;
    }
    if (uv_accept(server, (uv_stream_t *)tcp) < 0 || uv_tcp_nodelay(tcp, 1) < 0 ||
        uv_read_start((uv_stream_t *)tcp, on_alloc, on_read) < 0) {
        uv_close((uv_handle_t *)tcp, server_spec->on_conn_closed);
        return NULL;
    }
    return tcp;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s --port N [--host 127.0.0.1]\n", prog);
    exit(2);
}

static void parse_args(int argc, char **argv, const char **host, int *port)
{
    long p = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *end;
            p = strtol(argv[++i], &end, 10);
            if (*end != '\0' || p < 0 || p > 65535)
                usage(argv[0]);
        } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            *host = argv[++i];
        } else {
            usage(argv[0]);
        }
    }
    if (p < 0)
        usage(argv[0]);
    *port = (int)p;
}

/* Listen (uv_tcp_bind sets SO_REUSEADDR), print the address, run until a stop signal. */
static int uv_server_main(int argc, char **argv, const struct uv_server *spec)
{
    const char *host = "127.0.0.1";
    int port;
    server_spec = spec;
    parse_args(argc, argv, &host, &port);

    struct sockaddr_in addr;
    if (uv_ip4_addr(host, port, &addr) < 0) {
        fprintf(stderr, "%s: --host must be an IPv4 address: %s\n", spec->name, host);
        return 2;
    }
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN); /* libuv leaves SIGPIPE alone; a write to a reset peer must not kill us */

    uv_loop_t *loop = uv_default_loop();
    uv_check(uv_tcp_init(loop, &listener), "uv_tcp_init");
    uv_check(uv_tcp_bind(&listener, (const struct sockaddr *)&addr, 0), "uv_tcp_bind");
    uv_check(uv_listen((uv_stream_t *)&listener, LISTEN_BACKLOG, spec->on_connection), "uv_listen");
    uv_check(uv_signal_init(loop, &sigint_watcher), "uv_signal_init");
    uv_check(uv_signal_init(loop, &sigterm_watcher), "uv_signal_init");
    uv_check(uv_signal_start(&sigint_watcher, on_stop_signal, SIGINT), "uv_signal_start");
    uv_check(uv_signal_start(&sigterm_watcher, on_stop_signal, SIGTERM), "uv_signal_start");

    struct sockaddr_in bound;
    int len = sizeof bound;
    uv_check(uv_tcp_getsockname(&listener, (struct sockaddr *)&bound, &len), "uv_tcp_getsockname");
    printf("listening on %s:%d\n", host, ntohs(bound.sin_port));
    fflush(stdout);

    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}

#endif
