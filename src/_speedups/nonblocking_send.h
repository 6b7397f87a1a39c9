/* The compiled outbox's non-blocking send: fsf_sendv gathers buffers (an
 * outbox's queued frames) into one sendmsg(2) and returns the bytes sent,
 * 0 when the socket takes nothing now, -errno on an error.  And the frame
 * parser's non-blocking read: fsf_recv returns the bytes read (0 at the
 * end of the stream), -EAGAIN when nothing is there, -errno on an error.
 * FSF_NATIVE_SEND is 0 where the outbox goes through the socket object
 * instead (Windows). */
#ifndef FSF_NONBLOCKING_SEND_H
#define FSF_NONBLOCKING_SEND_H

#ifdef _WIN32
#define FSF_NATIVE_SEND 0
typedef struct { void *iov_base; size_t iov_len; } fsf_iov;
static Py_ssize_t fsf_sendv(int fd, fsf_iov *iov, int n)
{ (void)fd; (void)iov; (void)n; return -1; }
static Py_ssize_t fsf_recv(int fd, char *buf, Py_ssize_t n)
{ (void)fd; (void)buf; (void)n; return -1; }
#define FSF_EAGAIN 11
#else
#include <errno.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0  /* macOS: Python ignores SIGPIPE already */
#endif
#define FSF_NATIVE_SEND 1
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

#define FSF_EAGAIN EAGAIN
static Py_ssize_t fsf_recv(int fd, char *buf, Py_ssize_t n)
{
    ssize_t r;
    do {
        r = recv(fd, buf, (size_t)n, MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR);
    if (r >= 0)
        return (Py_ssize_t)r;
    if (errno == EWOULDBLOCK)
        return -(Py_ssize_t)EAGAIN;
    return -(Py_ssize_t)errno;
}
#endif

#endif
