/* Non-blocking sends for the compiled outbox and the batch writer:
 * fsf_send from one buffer, fsf_sendv gathering up to FSF_MAX_IOV buffers
 * (an outbox's queued frames) into one sendmsg(2).  Both return the bytes
 * sent, 0 when the socket takes nothing now, -errno on an error.
 * FSF_NATIVE_SEND is 0 where the callers go through the socket object
 * instead (Windows). */
#ifndef FSF_NONBLOCKING_SEND_H
#define FSF_NONBLOCKING_SEND_H

/* frames per sendmsg: well under every IOV_MAX (Linux and macOS: 1024),
 * and the iovec array stays small enough for a greenlet's stack */
#define FSF_MAX_IOV 512

#ifdef _WIN32
#define FSF_NATIVE_SEND 0
typedef struct { void *iov_base; size_t iov_len; } fsf_iov;
static Py_ssize_t fsf_send(int fd, const char *buf, Py_ssize_t n)
{ (void)fd; (void)buf; (void)n; return -1; }
static Py_ssize_t fsf_sendv(int fd, fsf_iov *iov, int n)
{ (void)fd; (void)iov; (void)n; return -1; }
#else
#include <errno.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0  /* macOS: Python ignores SIGPIPE already */
#endif
#define FSF_NATIVE_SEND 1
static Py_ssize_t fsf_send(int fd, const char *buf, Py_ssize_t n)
{
    ssize_t r;
    do {
        r = send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    if (r >= 0)
        return (Py_ssize_t)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    return -(Py_ssize_t)errno;
}

typedef struct iovec fsf_iov;

static Py_ssize_t fsf_sendv(int fd, fsf_iov *iov, int n)
{
    struct msghdr msg = {0};
    ssize_t r;
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    do {
        r = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    if (r >= 0)
        return (Py_ssize_t)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    return -(Py_ssize_t)errno;
}
#endif

#endif
