# The C declarations outbox_c and rooms_c share (outbox_api.h): what the
# compiled outbox offers the compiled broadcast loop.  Declarations only,
# so cimporting it adds no module to import at run time.

cdef extern from "outbox_api.h":
    const char *FSF_OUTBOX_API_NAME
    ctypedef struct fsf_outbox_api:
        int (*append)(object, object) except -1
        void (*prefetch)(object) noexcept
    void fsf_prefetch(const void *p)
