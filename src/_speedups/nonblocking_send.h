/* One non-blocking send(2) from a buffer, for the compiled outbox and the
 * batch writer: bytes sent, 0 when the socket takes nothing now, -errno on
 * an error.  FSF_NATIVE_SEND is 0 where the callers go through the socket
 * object instead (Windows). */
#ifndef FSF_NONBLOCKING_SEND_H
#define FSF_NONBLOCKING_SEND_H

#ifdef _WIN32
#define FSF_NATIVE_SEND 0
static Py_ssize_t fsf_send(int fd, const char *buf, Py_ssize_t n)
{ (void)fd; (void)buf; (void)n; return -1; }
#else
#include <errno.h>
#include <sys/types.h>
#include <sys/socket.h>
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
#endif

#endif
