/*
 * Load generator for the end-to-end benchmarks, WebSocket clients only.
 *
 * A drop-in for benchmarks/loadgen/loadgen.js: same command line, same
 * JSON-lines protocol on stdin/stdout (hello, connect, fanout, echo, quit),
 * same reply fields, plus the broadcast span (per message, first to last
 * client receiving it).  Why C: the Node load generator saturates its core
 * at a few hundred thousand delivered messages per second, so on the fast
 * servers it, and not the server, becomes what is measured.  This one is a
 * single-threaded, level-triggered epoll loop over non-blocking sockets that
 * speaks HTTP upgrade, RFC 6455 framing, Engine.IO v4 and Socket.IO v5
 * itself, with libc only.
 *
 * It never decodes a payload: a fan-out message 42["m",{"i":N,...}] is
 * recognised by its first bytes and N is read as digits, so the cost per
 * delivered message is a few comparisons, and the client side stays cheap
 * enough never to be the bottleneck.  Only acks whose content is reported
 * (bench_info, bench_fanout) are cut out of their array, still undecoded,
 * and passed through raw.
 *
 * Long-polling and permessage-deflate are not supported: use the Node
 * load generator for those (benchmarks/processes.py picks it).
 *
 * Build: cc -O2 -Wall -o benchmarks/loadgen_c/loadgen benchmarks/loadgen_c/loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ utilities */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
           ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static void logmsg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("[loadgen-c] ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        logmsg("out of memory (%zu bytes)", n);
        exit(3);
    }
    return q;
}

/* A growable byte buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void sb_add(sbuf *b, const void *data, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void sb_set(sbuf *b, const void *data, size_t n)
{
    b->len = 0;
    sb_add(b, data, n);
}

static void sb_puts(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    sb_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void sb_free(sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* A JSON string literal. */
static void sb_jstr(sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n + 2);
    b->p[b->len++] = '"';
    for (size_t k = 0; k < n; k++) {
        unsigned char ch = (unsigned char)s[k];
        if (ch == '"' || ch == '\\') {
            char esc[2] = {'\\', (char)ch};
            sb_add(b, esc, 2);
        } else if (ch < 0x20) {
            sb_printf(b, "\\u%04x", ch);
        } else {
            sb_add(b, &s[k], 1);
        }
    }
    sb_add(b, "\"", 1);
}

/* A JSON number, or null when it is not finite. */
static void sb_num(sbuf *b, double v)
{
    if (!isfinite(v))
        sb_puts(b, "null");
    else
        sb_printf(b, "%.10g", v);
}

/* ",\"key\":" */
static void sb_key(sbuf *b, const char *key)
{
    if (b->len && b->p[b->len - 1] != '{')
        sb_add(b, ",", 1);
    sb_jstr(b, key, strlen(key));
    sb_add(b, ":", 1);
}

static void kv_num(sbuf *b, const char *key, double v) { sb_key(b, key); sb_num(b, v); }
static void kv_int(sbuf *b, const char *key, long long v) { sb_key(b, key); sb_printf(b, "%lld", v); }
static void kv_str(sbuf *b, const char *key, const char *v) { sb_key(b, key); sb_jstr(b, v, strlen(v)); }
static void kv_raw(sbuf *b, const char *key, const char *v, size_t n) { sb_key(b, key); sb_add(b, v, n); }
static void kv_bool(sbuf *b, const char *key, int v) { sb_key(b, key); sb_puts(b, v ? "true" : "false"); }
static void kv_null(sbuf *b, const char *key) { sb_key(b, key); sb_puts(b, "null"); }

static void kv_cpu(sbuf *b, const char *key, double cpu, double wall)
{
    sb_key(b, key);
    sb_puts(b, "{");
    kv_num(b, "cpu_s", cpu);
    kv_num(b, "wall_s", wall);
    kv_num(b, "pct", wall > 0 ? 100.0 * cpu / wall : 0.0);
    sb_puts(b, "}");
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            exit(1); /* the runner went away */
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Send one JSON reply line (b holds the object without the newline). */
static void reply(sbuf *b)
{
    sb_add(b, "\n", 1);
    write_all(1, b->p, b->len);
    b->len = 0;
}

static void reply_error(const char *cmd, const char *err)
{
    sbuf b = {0};
    sb_puts(&b, "{");
    kv_str(&b, "ev", "error");
    if (cmd)
        kv_str(&b, "cmd", cmd);
    kv_str(&b, "error", err);
    sb_puts(&b, "}");
    reply(&b);
    sb_free(&b);
}

/* End of the JSON value starting at p (not decoded, only skipped), or NULL. */
static const char *json_skip(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    if (p >= e)
        return NULL;
    if (*p == '"') {
        for (p++; p < e; p++) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                return p + 1;
        }
        return NULL;
    }
    if (*p == '{' || *p == '[') {
        int depth = 0;
        for (; p < e; p++) {
            char ch = *p;
            if (ch == '"') {
                const char *q = json_skip(p, e);
                if (!q)
                    return NULL;
                p = q - 1;
            } else if (ch == '{' || ch == '[') {
                depth++;
            } else if (ch == '}' || ch == ']') {
                if (--depth == 0)
                    return p + 1;
            }
        }
        return NULL;
    }
    const char *s = p;
    while (p < e && !strchr(",]} \t\r\n", *p))
        p++;
    return p > s ? p : NULL;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* ------------------------------------------------------------ commands in */

/* The runner's commands are flat JSON objects: a handful of known fields. */
enum {
    F_N, F_CONCURRENCY, F_CONNECT_TIMEOUT, F_COUNT, F_RATE, F_SIZE, F_QUIET,
    F_CLIENTS, F_DURATION, F_DEPTH, F_NFIELDS
};
static const char *FIELD_NAMES[F_NFIELDS] = {
    "n", "concurrency", "connect_timeout", "count", "rate", "size", "quiet",
    "clients", "duration", "depth",
};

typedef struct {
    char cmd[64];
    char transport[64];
    int has_transport;
    double num[F_NFIELDS]; /* 0 when absent, like `msg.x || default` */
    int has[F_NFIELDS];
} command;

/* Parses a JSON string at *pp into out (truncated to cap); 0 on success. */
static int parse_jstring(const char **pp, const char *e, char *out, size_t cap)
{
    const char *p = *pp;
    size_t n = 0;
    if (p >= e || *p != '"')
        return -1;
    for (p++; p < e && *p != '"'; p++) {
        char ch = *p;
        if (ch == '\\') {
            if (++p >= e)
                return -1;
            switch (*p) {
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case 'r': ch = '\r'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'u':
                if (e - p < 5)
                    return -1;
                p += 4;
                ch = '?';
                break;
            default: ch = *p;
            }
        }
        if (n + 1 < cap)
            out[n++] = ch;
    }
    if (p >= e)
        return -1;
    out[n] = 0;
    *pp = p + 1;
    return 0;
}

static int parse_command(const char *line, size_t len, command *c)
{
    const char *p = line, *e = line + len;
    memset(c, 0, sizeof *c);
    while (p < e && is_ws(*p)) p++;
    if (p >= e || *p != '{')
        return -1;
    p++;
    for (;;) {
        while (p < e && is_ws(*p)) p++;
        if (p < e && *p == '}')
            break;
        char key[64];
        if (parse_jstring(&p, e, key, sizeof key))
            return -1;
        while (p < e && is_ws(*p)) p++;
        if (p >= e || *p != ':')
            return -1;
        p++;
        while (p < e && is_ws(*p)) p++;
        if (p >= e)
            return -1;
        if (*p == '"') {
            char val[64];
            if (parse_jstring(&p, e, val, sizeof val))
                return -1;
            if (!strcmp(key, "cmd"))
                snprintf(c->cmd, sizeof c->cmd, "%s", val);
            else if (!strcmp(key, "transport")) {
                snprintf(c->transport, sizeof c->transport, "%s", val);
                c->has_transport = 1;
            }
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            char *end;
            double v = strtod(p, &end);
            if (end == p)
                return -1;
            p = end;
            for (int k = 0; k < F_NFIELDS; k++)
                if (!strcmp(key, FIELD_NAMES[k])) {
                    c->num[k] = v;
                    c->has[k] = 1;
                }
        } else {
            const char *q = json_skip(p, e); /* true/false/null/{...}/[...] */
            if (!q)
                return -1;
            if (q - p == 4 && !memcmp(p, "true", 4))
                for (int k = 0; k < F_NFIELDS; k++)
                    if (!strcmp(key, FIELD_NAMES[k])) {
                        c->num[k] = 1;
                        c->has[k] = 1;
                    }
            p = q;
        }
        while (p < e && is_ws(*p)) p++;
        if (p < e && *p == ',') {
            p++;
            continue;
        }
        if (p < e && *p == '}')
            break;
        return -1;
    }
    return 0;
}

/* `msg.x || dflt` */
static double opt(const command *c, int field, double dflt)
{
    return c->num[field] != 0 ? c->num[field] : dflt;
}

/* ------------------------------------------------------------ state */

static struct {
    const char *host;
    int port;
    const char *path;
} OPTS = {"127.0.0.1", 5000, "/socket.io/"};

static struct sockaddr_storage g_addr;
static socklen_t g_addrlen;
static int g_ep = -1;

/* Receive scratch, shared by all connections: a connection's saved partial
 * frame is copied in front of each read, the tail is saved back. */
static char *g_scratch;
static size_t g_scratch_cap;
#define SCRATCH_MIN (256 * 1024)
#define READ_MIN (64 * 1024)

/* Time of the read being parsed: every message in it arrived then. */
static double g_now;

enum { ST_TCP, ST_HTTP, ST_WS, ST_NS, ST_READY, ST_DEAD };

typedef struct inflight {
    unsigned id;
    double t;
} inflight;

typedef struct conn {
    int fd;
    int id; /* -1 for the control client */
    int state;
    int connecting; /* still being connected: success or failure is reported */
    int closing;
    int want_out; /* EPOLLOUT registered */
    int in_frag;
    int frag_op;
    int pend_idx; /* index in g_connecting */
    double deadline;
    const char *query;
    sbuf in;  /* saved bytes: HTTP response so far, or a partial frame */
    sbuf out; /* bytes not yet written */
    size_t out_off;
    sbuf frag; /* fragmented message being assembled */
    long long next; /* next expected fan-out sequence number */
    unsigned ack_id;
    inflight *fl; /* echo events awaiting their ack */
    int nfl, flcap;
} conn;

static int g_stdin_tag; /* epoll data for stdin */

static conn **g_pool; /* room clients, in connection order */
static int g_npool, g_poolcap;
static conn *g_control;

static conn **g_connecting; /* connections being set up */
static int g_nconnecting, g_connectingcap;

static conn **g_grave; /* failed connects, freed after the event batch */
static int g_ngrave, g_gravecap;

static conn *g_reading; /* the connection whose read is being parsed */
static long long g_disconnects;

/* the control client's outstanding ack */
static struct {
    unsigned id;
    int waiting, got;
    sbuf raw; /* first element of the ack's array, raw JSON */
    double t;
} g_ctlack;

/* outcome of the control client's connect */
static int g_ctl_status; /* 0 pending, 1 ready, -1 failed */
static char g_ctl_err[512];

/* connect command bookkeeping */
static int g_conn_inflight, g_conn_failed;
typedef struct {
    char *msg;
    int count;
} errcount;
static errcount *g_errors;
static int g_nerrors, g_errcap;

/* the fan-out measurement in progress */
static struct {
    int active;
    long long count;
    int nclients;
    long long delivered, lost, ooo, bad;
    int done_clients;
    double t_start, t_first, t_last, last_progress;
    double cpu_first, cpu_last;
    int have_first, have_last;
    double *first, *last; /* per sequence number: first and last receive time */
} ph;

/* the echo measurement in progress */
static struct {
    int active;
    const char *payload;
    size_t payload_len;
    long long inflight, mismatched;
    double *lat;
    size_t nlat, latcap;
    double t_stop, t_end;
} echo;

/* stdin lines */
static sbuf g_lines;
static int g_stdin_eof;

/* ------------------------------------------------------------ connections */

static void ep_mod(conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void connecting_remove(conn *c)
{
    int k = c->pend_idx;
    if (k < 0 || k >= g_nconnecting || g_connecting[k] != c)
        return;
    g_connecting[k] = g_connecting[--g_nconnecting];
    g_connecting[k]->pend_idx = k;
    c->pend_idx = -1;
}

static void conn_close(conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->state = ST_DEAD;
    sb_free(&c->in);
    sb_free(&c->out);
    c->out_off = 0;
    c->nfl = 0;
}

static void conn_destroy(conn *c)
{
    conn_close(c);
    sb_free(&c->frag);
    free(c->fl);
    free(c);
}

static void bury(conn *c)
{
    if (g_ngrave == g_gravecap) {
        g_gravecap = g_gravecap ? g_gravecap * 2 : 64;
        g_grave = xrealloc(g_grave, g_gravecap * sizeof *g_grave);
    }
    g_grave[g_ngrave++] = c;
}

static void record_error(const char *why)
{
    for (int k = 0; k < g_nerrors; k++)
        if (!strcmp(g_errors[k].msg, why)) {
            g_errors[k].count++;
            return;
        }
    if (g_nerrors == g_errcap) {
        g_errcap = g_errcap ? g_errcap * 2 : 8;
        g_errors = xrealloc(g_errors, g_errcap * sizeof *g_errors);
    }
    g_errors[g_nerrors].msg = strdup(why);
    g_errors[g_nerrors].count = 1;
    g_nerrors++;
}

/* A connection attempt ended: why == NULL means the namespace is joined. */
static void connect_done(conn *c, const char *why)
{
    c->connecting = 0;
    connecting_remove(c);
    if (c->id < 0) {
        if (why) {
            g_ctl_status = -1;
            snprintf(g_ctl_err, sizeof g_ctl_err, "%s", why);
            conn_close(c);
            if (g_control == c)
                g_control = NULL;
            bury(c);
        } else {
            g_ctl_status = 1;
        }
        return;
    }
    g_conn_inflight--;
    if (why) {
        g_conn_failed++;
        record_error(why);
        conn_close(c);
        bury(c);
        return;
    }
    if (g_npool == g_poolcap) {
        g_poolcap = g_poolcap ? g_poolcap * 2 : 1024;
        g_pool = xrealloc(g_pool, g_poolcap * sizeof *g_pool);
    }
    g_pool[g_npool++] = c;
}

/* Something went wrong on c: a pending connect fails, others only log. */
static void conn_fail(conn *c, const char *why)
{
    if (c->connecting)
        connect_done(c, why);
    else if (!c->closing)
        logmsg("client %d: %s", c->id, why);
}

/* The connection is gone. */
static void conn_lost(conn *c, const char *why)
{
    if (c->closing || c->state == ST_DEAD)
        return;
    if (c->state == ST_READY)
        g_disconnects++;
    int connecting = c->connecting;
    conn_close(c);
    if (connecting)
        connect_done(c, why);
    else
        logmsg("client %d: %s", c->id, why);
}

static void conn_flush(conn *c)
{
    if (c->fd < 0 || c->state == ST_TCP)
        return;
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        char why[256];
        snprintf(why, sizeof why, "websocket error: send: %s", strerror(errno));
        conn_lost(c, why);
        return;
    }
    if (c->out_off == c->out.len) {
        c->out_off = c->out.len = 0;
        if (c->want_out) {
            ep_mod(c, EPOLLIN);
            c->want_out = 0;
        }
    } else if (!c->want_out) {
        ep_mod(c, EPOLLIN | EPOLLOUT);
        c->want_out = 1;
    }
}

/* Queue one client frame (masked with a zero key: valid, and the payload
 * goes out as it is); written at once unless c's read is being parsed, in
 * which case everything queued goes out in one write at the end of it. */
static void send_frame(conn *c, int op, const char *data, size_t n)
{
    if (c->fd < 0)
        return;
    unsigned char h[14];
    size_t hl;
    h[0] = (unsigned char)(0x80 | op);
    if (n < 126) {
        h[1] = (unsigned char)(0x80 | n);
        hl = 2;
    } else if (n < 65536) {
        h[1] = 0x80 | 126;
        h[2] = (unsigned char)(n >> 8);
        h[3] = (unsigned char)n;
        hl = 4;
    } else {
        h[1] = 0x80 | 127;
        for (int k = 0; k < 8; k++)
            h[2 + k] = (unsigned char)((uint64_t)n >> (56 - 8 * k));
        hl = 10;
    }
    memset(h + hl, 0, 4);
    hl += 4;
    sb_reserve(&c->out, hl + n);
    sb_add(&c->out, h, hl);
    sb_add(&c->out, data, n);
    if (c != g_reading)
        conn_flush(c);
}

static void send_text(conn *c, const char *s, size_t n) { send_frame(c, 1, s, n); }

/* Emit event with an ack request: 42<id>["event"(,json)] */
static unsigned emit_ack(conn *c, const char *event, const char *json, size_t json_len)
{
    unsigned id = ++c->ack_id;
    char head[96];
    int hn = snprintf(head, sizeof head, "42%u[\"%s\"", id, event);
    sbuf b = {0};
    sb_add(&b, head, (size_t)hn);
    if (json) {
        sb_add(&b, ",", 1);
        sb_add(&b, json, json_len);
    }
    sb_add(&b, "]", 1);
    send_text(c, b.p, b.len);
    sb_free(&b);
    return id;
}

static void send_http_request(conn *c)
{
    sbuf b = {0};
    sb_printf(&b,
              "GET %s?EIO=4&transport=websocket%s%s HTTP/1.1\r\n"
              "Host: %s:%d\r\n"
              "Upgrade: websocket\r\n"
              "Connection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              "Sec-WebSocket-Version: 13\r\n"
              "\r\n",
              OPTS.path, c->query && *c->query ? "&" : "", c->query ? c->query : "",
              OPTS.host, OPTS.port);
    sb_add(&c->out, b.p, b.len);
    sb_free(&b);
    conn_flush(c);
}

static void tcp_connected(conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        char why[256];
        snprintf(why, sizeof why, "websocket error: connect %s", strerror(err));
        conn_lost(c, why);
        return;
    }
    c->state = ST_HTTP;
    ep_mod(c, EPOLLIN);
    c->want_out = 0;
    send_http_request(c);
}

/* Start connecting a client; the outcome goes to connect_done. */
static conn *conn_open(int id, const char *query, double timeout_s)
{
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        logmsg("out of memory");
        exit(3);
    }
    c->fd = -1;
    c->id = id;
    c->query = query;
    c->state = ST_TCP;
    c->connecting = 1;
    c->deadline = now_s() + timeout_s;
    if (g_nconnecting == g_connectingcap) {
        g_connectingcap = g_connectingcap ? g_connectingcap * 2 : 64;
        g_connecting = xrealloc(g_connecting, g_connectingcap * sizeof *g_connecting);
    }
    c->pend_idx = g_nconnecting;
    g_connecting[g_nconnecting++] = c;

    char why[256];
    int fd = socket(g_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, sizeof why, "websocket error: socket %s", strerror(errno));
        connect_done(c, why);
        return c;
    }
    c->fd = fd;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int r = connect(fd, (struct sockaddr *)&g_addr, g_addrlen);
    if (r < 0 && errno != EINPROGRESS) {
        snprintf(why, sizeof why, "websocket error: connect %s", strerror(errno));
        conn_close(c);
        connect_done(c, why);
        return c;
    }
    struct epoll_event ev = {.events = r == 0 ? EPOLLIN : EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        snprintf(why, sizeof why, "websocket error: epoll %s", strerror(errno));
        conn_close(c);
        connect_done(c, why);
        return c;
    }
    if (r == 0) {
        c->state = ST_HTTP;
        send_http_request(c);
    }
    return c;
}

/* ------------------------------------------------------------ protocol */

/* Unsigned decimal at p (blanks skipped first); -1 when there are no digits. */
static long long read_uint(const char *p, const char *e)
{
    while (p < e && *p == ' ')
        p++;
    long long v = -1;
    for (int nd = 0; p < e && *p >= '0' && *p <= '9' && nd < 18; p++, nd++)
        v = (v < 0 ? 0 : v * 10) + (*p - '0');
    return v;
}

/* 42["m",{"i":N,...}]: count it and check its sequence number. */
static void on_event(conn *c, const char *s, const char *e)
{
    if (!ph.active || e - s < 4 || s[0] != '[' || s[1] != '"' || s[2] != 'm' || s[3] != '"')
        return;
    const char *k;
    if (e - s >= 10 && !memcmp(s + 4, ",{\"i\":", 6))
        k = s + 10; /* the usual layout */
    else {
        k = memmem(s + 4, (size_t)(e - (s + 4)), "\"i\":", 4);
        if (k)
            k += 4;
    }
    long long i = k ? read_uint(k, e) : -1;
    if (i < 0) {
        ph.bad++;
        return;
    }
    if (!ph.have_first) {
        ph.have_first = 1;
        ph.t_first = g_now;
        ph.cpu_first = cpu_s();
    }
    ph.last_progress = g_now;
    if (i < ph.count) {
        if (ph.first[i] < 0)
            ph.first[i] = g_now;
        ph.last[i] = g_now;
    }
    ph.delivered++;
    if (i == c->next) {
        c->next = i + 1;
    } else if (i > c->next) {
        ph.lost += i - c->next;
        c->next = i + 1;
    } else {
        /* an earlier number arriving late: it was counted lost at the gap */
        ph.ooo++;
        ph.lost--;
        return;
    }
    if (c->next == ph.count) {
        ph.done_clients++;
        if (ph.done_clients == ph.nclients) {
            ph.have_last = 1;
            ph.t_last = g_now;
            ph.cpu_last = cpu_s();
        }
    }
}

static void echo_send(conn *c)
{
    unsigned id = ++c->ack_id;
    if (c->nfl == c->flcap) {
        c->flcap = c->flcap ? c->flcap * 2 : 4;
        c->fl = xrealloc(c->fl, c->flcap * sizeof *c->fl);
    }
    c->fl[c->nfl].id = id;
    c->fl[c->nfl].t = now_s();
    c->nfl++;
    echo.inflight++;
    char head[48];
    int hn = snprintf(head, sizeof head, "42%u[\"echo\",", id);
    sbuf b = {0};
    sb_reserve(&b, (size_t)hn + echo.payload_len + 1);
    sb_add(&b, head, (size_t)hn);
    sb_add(&b, echo.payload, echo.payload_len);
    sb_add(&b, "]", 1);
    send_text(c, b.p, b.len);
    sb_free(&b);
}

/* 43<id>[...]: an acknowledgement. */
static void on_ack(conn *c, const char *s, const char *e)
{
    unsigned id = 0;
    const char *p = s;
    while (p < e && *p >= '0' && *p <= '9')
        id = id * 10 + (unsigned)(*p++ - '0');
    if (c == g_control) {
        if (g_ctlack.waiting && id == g_ctlack.id) {
            g_ctlack.waiting = 0;
            g_ctlack.got = 1;
            g_ctlack.t = now_s();
            const char *q = p;
            while (q < e && is_ws(*q))
                q++;
            const char *v = q < e && *q == '[' ? q + 1 : NULL;
            while (v && v < e && is_ws(*v))
                v++;
            const char *ve = v && v < e && *v != ']' ? json_skip(v, e) : NULL;
            if (ve)
                sb_set(&g_ctlack.raw, v, (size_t)(ve - v));
            else
                sb_set(&g_ctlack.raw, "null", 4);
        }
        return;
    }
    for (int k = 0; k < c->nfl; k++) {
        if (c->fl[k].id != id)
            continue;
        double t = now_s();
        double sent = c->fl[k].t;
        c->fl[k] = c->fl[--c->nfl];
        if (!echo.active)
            return;
        echo.inflight--;
        /* the ack must carry the payload back: check its length, not its JSON */
        if ((size_t)(e - p) != echo.payload_len + 2)
            echo.mismatched++;
        if (echo.nlat == echo.latcap) {
            echo.latcap = echo.latcap ? echo.latcap * 2 : 65536;
            echo.lat = xrealloc(echo.lat, echo.latcap * sizeof *echo.lat);
        }
        echo.lat[echo.nlat++] = (t - sent) * 1000.0;
        echo.t_end = t;
        if (t < echo.t_stop)
            echo_send(c);
        return;
    }
}

static void ns_connected(conn *c)
{
    c->state = ST_READY;
    if (c->connecting)
        connect_done(c, NULL);
}

/* One Engine.IO packet (one text message). */
static void eio_packet(conn *c, const char *s, size_t n)
{
    if (n == 0)
        return;
    switch (s[0]) {
    case '4':
        if (n < 2)
            return;
        switch (s[1]) {
        case '2': on_event(c, s + 2, s + n); break;
        case '3': on_ack(c, s + 2, s + n); break;
        case '0': ns_connected(c); break;
        case '4': {
            sbuf why = {0};
            sb_puts(&why, "connect_error ");
            sb_add(&why, s, n > 300 ? 300 : n);
            sb_add(&why, "", 1);
            conn_fail(c, why.p);
            sb_free(&why);
            break;
        }
        }
        break;
    case '2':
        send_text(c, "3", 1); /* pong */
        break;
    case '0':
        /* engine.io open: join the default namespace */
        if (c->state == ST_WS)
            c->state = ST_NS;
        send_text(c, "40", 2);
        break;
    case '1':
        conn_lost(c, "engine.io close packet");
        break;
    }
}

static void ws_message(conn *c, int op, const char *p, size_t n)
{
    if (op == 1)
        eio_packet(c, p, n); /* binary messages are not part of the benchmarks */
}

static void ws_frame(conn *c, int fin, int op, const char *p, size_t n)
{
    switch (op) {
    case 1:
    case 2:
        if (c->in_frag) {
            conn_lost(c, "websocket error: new message inside a fragmented one");
            return;
        }
        if (!fin) {
            c->in_frag = 1;
            c->frag_op = op;
            sb_set(&c->frag, p, n);
            return;
        }
        ws_message(c, op, p, n);
        return;
    case 0: {
        if (!c->in_frag) {
            conn_lost(c, "websocket error: unexpected continuation frame");
            return;
        }
        sb_add(&c->frag, p, n);
        if (!fin)
            return;
        c->in_frag = 0;
        sbuf msg = c->frag; /* c may die while handling it */
        c->frag = (sbuf){0};
        ws_message(c, c->frag_op, msg.p, msg.len);
        if (c->frag.p == NULL) {
            msg.len = 0;
            c->frag = msg;
        } else {
            sb_free(&msg);
        }
        return;
    }
    case 8:
        conn_lost(c, "websocket closed");
        return;
    case 9:
        send_frame(c, 0xA, p, n); /* pong */
        return;
    case 10:
        return;
    default:
        conn_lost(c, "websocket error: unknown opcode");
    }
}

/* Parse every complete frame in p[0:len]; returns the bytes consumed. */
static size_t ws_parse(conn *c, char *p, size_t len)
{
    size_t off = 0;
    while (c->fd >= 0 && len - off >= 2) {
        unsigned char *f = (unsigned char *)p + off;
        size_t avail = len - off;
        int fin = f[0] & 0x80, op = f[0] & 0x0f, masked = f[1] & 0x80;
        uint64_t plen = f[1] & 0x7f;
        size_t hl = 2;
        if (plen == 126) {
            if (avail < 4)
                break;
            plen = ((uint64_t)f[2] << 8) | f[3];
            hl = 4;
        } else if (plen == 127) {
            if (avail < 10)
                break;
            plen = 0;
            for (int k = 0; k < 8; k++)
                plen = (plen << 8) | f[2 + k];
            hl = 10;
        }
        if (masked)
            hl += 4;
        if (plen > ((uint64_t)1 << 31)) {
            conn_lost(c, "websocket error: frame too large");
            break;
        }
        if (avail < hl + plen)
            break;
        char *pl = (char *)f + hl;
        if (masked) {
            const unsigned char *m = f + hl - 4;
            for (uint64_t k = 0; k < plen; k++)
                pl[k] ^= m[k & 3];
        }
        off += hl + (size_t)plen;
        ws_frame(c, fin, op, pl, (size_t)plen);
    }
    return off;
}

static void conn_readable(conn *c)
{
    size_t saved = c->in.len;
    if (g_scratch_cap < saved + READ_MIN) {
        size_t cap = g_scratch_cap ? g_scratch_cap : SCRATCH_MIN;
        while (cap < saved + READ_MIN)
            cap *= 2;
        g_scratch = xrealloc(g_scratch, cap);
        g_scratch_cap = cap;
    }
    ssize_t n;
    do {
        n = recv(c->fd, g_scratch + saved, g_scratch_cap - saved, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        char why[256];
        snprintf(why, sizeof why, "websocket error: %s", strerror(errno));
        conn_lost(c, why);
        return;
    }
    if (n == 0) {
        conn_lost(c, "websocket closed");
        return;
    }
    g_now = now_s();
    if (saved)
        memcpy(g_scratch, c->in.p, saved);
    c->in.len = 0;
    char *p = g_scratch;
    size_t len = saved + (size_t)n;
    if (c->state == ST_HTTP) {
        char *end = memmem(p, len, "\r\n\r\n", 4);
        if (!end) {
            if (len > 65536)
                conn_lost(c, "websocket error: HTTP response header too long");
            else
                sb_set(&c->in, p, len);
            return;
        }
        int status = 0;
        if (len > 12 && !memcmp(p, "HTTP/1.", 7))
            status = atoi(p + 9);
        if (status != 101) {
            char why[64];
            snprintf(why, sizeof why, "Unexpected server response: %d", status);
            conn_lost(c, why);
            return;
        }
        c->state = ST_WS;
        size_t h = (size_t)(end + 4 - p);
        p += h;
        len -= h;
    }
    g_reading = c;
    size_t used = ws_parse(c, p, len);
    g_reading = NULL;
    if (c->fd < 0)
        return;
    if (used < len)
        sb_set(&c->in, p + used, len - used);
    if (c->out.len > c->out_off)
        conn_flush(c);
}

/* ------------------------------------------------------------ the loop */

static void read_stdin(void)
{
    char buf[65536];
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        g_stdin_eof = 1;
        epoll_ctl(g_ep, EPOLL_CTL_DEL, 0, NULL);
        return;
    }
    sb_add(&g_lines, buf, (size_t)n);
}

/* The next complete stdin line (malloc'd, without the newline), or NULL. */
static char *pop_line(size_t *len)
{
    char *nl = g_lines.len ? memchr(g_lines.p, '\n', g_lines.len) : NULL;
    if (!nl)
        return NULL;
    size_t n = (size_t)(nl - g_lines.p);
    char *line = xrealloc(NULL, n + 1);
    memcpy(line, g_lines.p, n);
    line[n] = 0;
    memmove(g_lines.p, nl + 1, g_lines.len - n - 1);
    g_lines.len -= n + 1;
    *len = n;
    return line;
}

/* Expire connects past their deadline; returns ms until the next one (-1: none). */
static int check_connect_timeouts(void)
{
    double now = now_s(), next = -1;
    for (int k = 0; k < g_nconnecting;) {
        conn *c = g_connecting[k];
        if (now >= c->deadline) {
            conn_close(c);
            connect_done(c, "connect timeout"); /* removes it from the list */
            continue;
        }
        if (next < 0 || c->deadline < next)
            next = c->deadline;
        k++;
    }
    return next < 0 ? -1 : (int)((next - now) * 1000) + 1;
}

static void poll_once(int timeout_ms)
{
    struct epoll_event evs[512];
    int n = epoll_wait(g_ep, evs, 512, timeout_ms);
    for (int k = 0; k < n; k++) {
        if (evs[k].data.ptr == &g_stdin_tag) {
            read_stdin();
            continue;
        }
        conn *c = evs[k].data.ptr;
        uint32_t ev = evs[k].events;
        if (c->fd < 0)
            continue;
        if (c->state == ST_TCP) {
            tcp_connected(c);
            continue;
        }
        if (ev & EPOLLOUT)
            conn_flush(c);
        if (c->fd >= 0 && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
            conn_readable(c);
    }
    for (int k = 0; k < g_ngrave; k++)
        conn_destroy(g_grave[k]);
    g_ngrave = 0;
}

static int clamp_ms(double s, int lo, int hi)
{
    double ms = s * 1000.0 + 1;
    if (ms < lo)
        return lo;
    if (ms > hi)
        return hi;
    return (int)ms;
}

/* ------------------------------------------------------------ commands */

static void close_all(void)
{
    for (int k = 0; k < g_npool; k++) {
        g_pool[k]->closing = 1;
        conn_close(g_pool[k]);
    }
    if (g_control) {
        g_control->closing = 1;
        conn_close(g_control);
    }
}

static void cmd_quit(void)
{
    close_all();
    sbuf b = {0};
    sb_puts(&b, "{");
    kv_str(&b, "ev", "bye");
    sb_puts(&b, "}");
    reply(&b);
    exit(0);
}

/* Wait for the control client's ack to id, up to timeout_s (<0: forever). */
static int wait_ctl_ack(double timeout_s)
{
    double deadline = now_s() + timeout_s;
    while (!g_ctlack.got) {
        double left = deadline - now_s();
        if (left <= 0)
            return -1;
        poll_once(clamp_ms(left, 1, 1000));
    }
    return 0;
}

static void cmd_hello(const command *m)
{
    (void)m;
    if (g_control) {
        g_control->closing = 1;
        conn_destroy(g_control);
        g_control = NULL;
    }
    g_ctl_status = 0;
    g_control = conn_open(-1, "role=ctl", 15.0);
    while (g_ctl_status == 0) {
        int t = check_connect_timeouts();
        if (g_ctl_status)
            break;
        poll_once(t < 0 ? 1000 : (t > 1000 ? 1000 : t));
    }
    if (g_ctl_status < 0) {
        g_control = NULL; /* already buried, even when it failed inside conn_open */
        reply_error("hello", g_ctl_err);
        return;
    }
    g_ctlack.got = 0;
    g_ctlack.waiting = 1;
    g_ctlack.id = emit_ack(g_control, "bench_info", NULL, 0);
    if (wait_ctl_ack(15.0) < 0) {
        g_ctlack.waiting = 0;
        reply_error("hello", "no answer to bench_info");
        return;
    }
    sbuf b = {0};
    sb_puts(&b, "{");
    kv_str(&b, "ev", "hello");
    kv_raw(&b, "info", g_ctlack.raw.p, g_ctlack.raw.len);
    sb_puts(&b, "}");
    reply(&b);
    sb_free(&b);
}

static void cmd_connect(const command *m)
{
    if (m->has_transport && strcmp(m->transport, "websocket")) {
        char err[256];
        if (!strcmp(m->transport, "polling"))
            snprintf(err, sizeof err, "transport polling is not supported by the C load "
                     "generator (benchmarks/loadgen_c); use benchmarks/loadgen/loadgen.js");
        else
            snprintf(err, sizeof err, "unknown transport %s", m->transport);
        reply_error("connect", err);
        return;
    }
    long long target = (long long)opt(m, F_N, 0);
    int concurrency = (int)opt(m, F_CONCURRENCY, 50);
    double timeout_s = opt(m, F_CONNECT_TIMEOUT, 60);
    if (concurrency < 1)
        concurrency = 1;
    double t0 = now_s(), cpu0 = cpu_s();
    g_conn_failed = 0;
    g_conn_inflight = 0;
    for (int k = 0; k < g_nerrors; k++)
        free(g_errors[k].msg);
    g_nerrors = 0;
    long long next_id = g_npool;
    for (;;) {
        while (g_conn_inflight < concurrency && next_id < target) {
            g_conn_inflight++;
            conn_open((int)next_id++, "role=client", timeout_s);
        }
        if (g_conn_inflight == 0 && next_id >= target)
            break;
        int t = check_connect_timeouts();
        if (g_conn_inflight == 0)
            continue;
        poll_once(t < 0 ? 1000 : (t > 1000 ? 1000 : t));
    }
    double wall = now_s() - t0;
    sbuf b = {0};
    sb_puts(&b, "{");
    kv_str(&b, "ev", "connected");
    kv_int(&b, "total", g_npool);
    kv_int(&b, "failed", g_conn_failed);
    sb_key(&b, "errors");
    sb_puts(&b, "{");
    for (int k = 0; k < g_nerrors; k++)
        kv_int(&b, g_errors[k].msg, g_errors[k].count);
    sb_puts(&b, "}");
    kv_num(&b, "elapsed_s", wall);
    kv_cpu(&b, "cpu", cpu_s() - cpu0, wall);
    sb_puts(&b, "}");
    reply(&b);
    sb_free(&b);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Like loadgen.js: the element at floor(q * n) of the sorted values. */
static double pick(const double *v, size_t n, double q)
{
    if (!n)
        return NAN;
    size_t k = (size_t)(q * (double)n); /* q * n >= 0: the cast is floor */
    return v[k < n - 1 ? k : n - 1];
}

static void cmd_fanout(const command *m)
{
    if (!g_control) {
        reply_error("fanout", "no control client: send hello first");
        return;
    }
    long long count = (long long)opt(m, F_COUNT, 0);
    double rate = opt(m, F_RATE, 0);
    long long size = (long long)opt(m, F_SIZE, 64);
    double quiet = opt(m, F_QUIET, 10);
    if (count < 0) {
        reply_error("fanout", "count must not be negative");
        return;
    }
    conn **live = xrealloc(NULL, (g_npool ? g_npool : 1) * sizeof *live);
    int nlive = 0;
    for (int k = 0; k < g_npool; k++)
        if (g_pool[k]->state == ST_READY) {
            g_pool[k]->next = 0;
            live[nlive++] = g_pool[k];
        }
    free(ph.first);
    free(ph.last);
    memset(&ph, 0, sizeof ph);
    ph.count = count;
    ph.nclients = nlive;
    ph.first = xrealloc(NULL, (count ? count : 1) * sizeof(double));
    ph.last = xrealloc(NULL, (count ? count : 1) * sizeof(double));
    for (long long i = 0; i < count; i++)
        ph.first[i] = -1;
    double cpu0 = cpu_s();
    long long disc0 = g_disconnects;
    ph.active = 1;
    ph.t_start = now_s();
    ph.last_progress = ph.t_start;
    int timed_out = 0;

    char args[160];
    int an = snprintf(args, sizeof args, "{\"count\":%lld,\"rate\":%.17g,\"size\":%lld}",
                      count, rate, size);
    g_ctlack.got = 0;
    g_ctlack.waiting = 1;
    g_ctlack.id = emit_ack(g_control, "bench_fanout", args, (size_t)an);
    int missing = 0;
    for (;;) {
        if (g_ctlack.got && (ph.done_clients == ph.nclients || timed_out))
            break;
        double now = now_s();
        /* finish on silence: no new delivery (or missing ack) for `quiet` s */
        if (now - ph.last_progress > quiet) {
            timed_out = 1;
            if (!g_ctlack.got) {
                g_ctlack.waiting = 0;
                g_ctlack.got = 1;
                missing = 1;
            }
            continue;
        }
        poll_once(clamp_ms(ph.last_progress + quiet - now, 1, 1000));
    }
    ph.active = 0;
    double t_end = now_s();
    if (!ph.have_last)
        ph.t_last = ph.last_progress;
    /* whatever a client never reached is lost */
    long long lost = ph.lost;
    for (int k = 0; k < nlive; k++)
        if (live[k]->next < count)
            lost += count - live[k]->next;
    free(live);
    /* broadcast span: per message, first to last client receiving it */
    size_t nspan = 0;
    for (long long i = 0; i < count; i++)
        if (ph.first[i] >= 0)
            ph.first[nspan++] = (ph.last[i] - ph.first[i]) * 1000.0;
    qsort(ph.first, nspan, sizeof(double), cmp_double);

    double span = ph.t_last - ph.t_start;
    sbuf b = {0};
    sb_puts(&b, "{");
    kv_str(&b, "ev", "fanout");
    kv_int(&b, "clients", nlive);
    kv_int(&b, "count", count);
    kv_int(&b, "expected", (long long)nlive * count);
    kv_int(&b, "delivered", ph.delivered);
    kv_int(&b, "lost", lost);
    kv_int(&b, "out_of_order", ph.ooo);
    kv_int(&b, "unparsed", ph.bad);
    kv_bool(&b, "timed_out", timed_out);
    kv_int(&b, "disconnects", g_disconnects - disc0);
    kv_num(&b, "elapsed_s", span);
    if (ph.have_first)
        kv_num(&b, "first_s", ph.t_first - ph.t_start);
    else
        kv_null(&b, "first_s");
    if (!missing)
        kv_num(&b, "ack_s", g_ctlack.t - ph.t_start);
    else
        kv_null(&b, "ack_s");
    kv_num(&b, "msgs_per_s", span > 0 ? ph.delivered / span : 0);
    if (missing)
        kv_raw(&b, "server", "{\"missing\":true}", 16);
    else
        kv_raw(&b, "server", g_ctlack.raw.p, g_ctlack.raw.len);
    kv_num(&b, "span_p50_ms", pick(ph.first, nspan, 0.5));
    kv_num(&b, "span_p99_ms", pick(ph.first, nspan, 0.99));
    kv_num(&b, "span_max_ms", nspan ? ph.first[nspan - 1] : NAN);
    kv_cpu(&b, "cpu", cpu_s() - cpu0, t_end - ph.t_start);
    /* CPU while messages were flowing: the window where saturation would show */
    if (ph.have_last)
        kv_cpu(&b, "busy", ph.cpu_last - ph.cpu_first, ph.t_last - ph.t_first);
    else
        kv_null(&b, "busy");
    sb_puts(&b, "}");
    reply(&b);
    sb_free(&b);
}

static void cmd_echo(const command *m)
{
    long long k = (long long)opt(m, F_CLIENTS, 50);
    if (k > g_npool)
        k = g_npool;
    double duration = opt(m, F_DURATION, 5);
    int depth = (int)opt(m, F_DEPTH, 1);
    if (depth < 1)
        depth = 1;
    long long size = (long long)opt(m, F_SIZE, 64);
    if (size < 0)
        size = 0;
    sbuf payload = {0};
    sb_puts(&payload, "{\"i\":0,\"payload\":\"");
    sb_reserve(&payload, (size_t)size + 3);
    memset(payload.p + payload.len, 'x', (size_t)size);
    payload.len += (size_t)size;
    sb_puts(&payload, "\"}");

    conn **users = xrealloc(NULL, (k ? k : 1) * sizeof *users);
    int nusers = 0;
    for (int j = 0; j < g_npool && nusers < k; j++)
        if (g_pool[j]->state == ST_READY)
            users[nusers++] = g_pool[j];
    free(echo.lat);
    memset(&echo, 0, sizeof echo);
    echo.payload = payload.p;
    echo.payload_len = payload.len;
    echo.active = 1;
    double cpu0 = cpu_s();
    long long disc0 = g_disconnects;
    double t0 = now_s();
    echo.t_stop = t0 + duration;
    echo.t_end = t0;
    double t_grace = echo.t_stop + 5.0;
    for (int j = 0; j < nusers; j++)
        for (int d = 0; d < depth; d++)
            echo_send(users[j]);
    for (;;) {
        double now = now_s();
        if (now >= echo.t_stop && echo.inflight == 0)
            break;
        if (now >= t_grace)
            break;
        poll_once(clamp_ms((now < echo.t_stop ? echo.t_stop : t_grace) - now, 1, 1000));
    }
    echo.active = 0;
    for (int j = 0; j < nusers; j++)
        users[j]->nfl = 0; /* late acks are ignored */
    free(users);
    double wall = now_s() - t0;
    size_t n = echo.nlat;
    qsort(echo.lat, n, sizeof(double), cmp_double);
    double span = echo.t_end - t0;
    sbuf b = {0};
    sb_puts(&b, "{");
    kv_str(&b, "ev", "echo");
    kv_int(&b, "clients", nusers);
    kv_int(&b, "depth", depth);
    kv_int(&b, "round_trips", (long long)n);
    kv_int(&b, "mismatched", echo.mismatched);
    kv_int(&b, "unanswered", echo.inflight);
    kv_int(&b, "disconnects", g_disconnects - disc0);
    kv_num(&b, "elapsed_s", span);
    kv_num(&b, "rt_per_s", span > 0 ? n / span : 0);
    kv_num(&b, "p50_ms", pick(echo.lat, n, 0.5));
    kv_num(&b, "p90_ms", pick(echo.lat, n, 0.9));
    kv_num(&b, "p99_ms", pick(echo.lat, n, 0.99));
    kv_num(&b, "max_ms", n ? echo.lat[n - 1] : NAN);
    kv_cpu(&b, "cpu", cpu_s() - cpu0, wall);
    sb_puts(&b, "}");
    reply(&b);
    sb_free(&b);
    sb_free(&payload);
    echo.payload = NULL;
}

static void run_command(const char *line, size_t len)
{
    command m;
    size_t k = 0;
    while (k < len && is_ws(line[k]))
        k++;
    if (k == len)
        return;
    if (parse_command(line, len, &m)) {
        sbuf err = {0};
        sb_puts(&err, "bad json: ");
        sb_add(&err, line, len);
        sb_add(&err, "", 1);
        reply_error(NULL, err.p);
        sb_free(&err);
        return;
    }
    if (!strcmp(m.cmd, "quit"))
        cmd_quit();
    else if (!strcmp(m.cmd, "hello"))
        cmd_hello(&m);
    else if (!strcmp(m.cmd, "connect"))
        cmd_connect(&m);
    else if (!strcmp(m.cmd, "fanout"))
        cmd_fanout(&m);
    else if (!strcmp(m.cmd, "echo"))
        cmd_echo(&m);
    else {
        char err[128];
        snprintf(err, sizeof err, "unknown command %s", m.cmd);
        reply_error(NULL, err);
    }
}

/* ------------------------------------------------------------ main */

static void usage_exit(const char *msg)
{
    fprintf(stderr, "loadgen: %s\nusage: loadgen [--host H] [--port P] [--path /socket.io/]\n", msg);
    exit(2);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t want = rl.rlim_max == RLIM_INFINITY ? (rlim_t)1 << 20 : rl.rlim_max;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            logmsg("could not raise the open files limit: %s", strerror(errno));
    }
}

int main(int argc, char **argv)
{
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        if (!strcmp(a, "--host") && k + 1 < argc)
            OPTS.host = argv[++k];
        else if (!strcmp(a, "--port") && k + 1 < argc)
            OPTS.port = atoi(argv[++k]);
        else if (!strcmp(a, "--path") && k + 1 < argc)
            OPTS.path = argv[++k];
        else if (!strcmp(a, "--deflate"))
            usage_exit("--deflate (permessage-deflate) is not supported by the C load "
                       "generator; use benchmarks/loadgen/loadgen.js");
        else {
            char msg[256];
            snprintf(msg, sizeof msg, "unknown argument %s", a);
            usage_exit(msg);
        }
    }
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();

    char port[16];
    snprintf(port, sizeof port, "%d", OPTS.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int gai = getaddrinfo(OPTS.host, port, &hints, &ai);
    if (gai) {
        fprintf(stderr, "loadgen: cannot resolve %s: %s\n", OPTS.host, gai_strerror(gai));
        return 2;
    }
    memcpy(&g_addr, ai->ai_addr, ai->ai_addrlen);
    g_addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);

    g_ep = epoll_create1(EPOLL_CLOEXEC);
    if (g_ep < 0) {
        perror("epoll_create1");
        return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &g_stdin_tag};
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, 0, &ev) < 0) {
        /* stdin is a regular file (or /dev/null): read it all now */
        char buf[65536];
        ssize_t n;
        while ((n = read(0, buf, sizeof buf)) > 0)
            sb_add(&g_lines, buf, (size_t)n);
        g_stdin_eof = 1;
    }
    g_scratch_cap = SCRATCH_MIN;
    g_scratch = xrealloc(NULL, g_scratch_cap);

    /* Commands run one at a time, in order; connections are served all the
     * time (the server's pings are answered between commands too). */
    for (;;) {
        size_t len;
        char *line;
        while ((line = pop_line(&len)) != NULL) {
            run_command(line, len);
            free(line);
        }
        if (g_stdin_eof) {
            if (g_lines.len) { /* a last line without a newline */
                sb_add(&g_lines, "\n", 1);
                continue;
            }
            cmd_quit();
        }
        poll_once(-1);
    }
}
