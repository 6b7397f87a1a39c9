/* What the compiled outbox offers the compiled broadcast loop (rooms_c):
 * C entry points, published by outbox_c as the capsule _C_API, so that a
 * broadcast appends to each recipient's Outbox without a Python method
 * call.  Both modules are built from this tree together; the capsule's
 * name carries a version, so a mismatched pair is refused, not misused. */
#ifndef FSF_OUTBOX_API_H
#define FSF_OUTBOX_API_H

#define FSF_OUTBOX_API_NAME "flask_socketio_fast._speedups.outbox_c._C_API.v1"

/* a hint to the CPU that *p will be written soon */
#if defined(__GNUC__) || defined(__clang__)
#define fsf_prefetch(p) __builtin_prefetch((p), 1)
#else
#define fsf_prefetch(p) ((void)(p))
#endif

typedef struct {
    /* Outbox.append(frame): 0, or -1 with an exception set */
    int (*append)(PyObject *box, PyObject *frame);
    /* a hint: fetch the queue slot the next append to box will write */
    void (*prefetch)(PyObject *box);
} fsf_outbox_api;

#endif
