/* The per-event critical sections of the ring in C, with C11 atomics (optional; see _fastpath.py).
 *
 * Each call does exactly what the pure-Python code of _participants.py does in its critical section,
 * under the same POSIX semaphores (taken with sem_trywait: when a lock is busy the call changes
 * nothing and returns BUSY, and the Python code waits for the lock as before), with the same marks in
 * the participant record. What C adds is the memory ordering: the publish cursor is stored with
 * release and loaded with acquire, a slot's version is fenced before its data is written, and the
 * release cursors are stored with release and loaded with acquire, so that on weakly ordered CPUs
 * (ARM) a reader never sees a slot before its data and a writer never overwrites a slot still read.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <semaphore.h>
#include <stdint.h>
#include <time.h>

/* word offsets of the control block: _controlblock.py; checked against it at import (WORDS) */
#define LINE 8
#define WACT 8
#define NGROUPS 13
#define WCLAIM 16
#define PUBLISH 17
#define W_SLEEP 18
#define DEADSUM 22
#define CLAIM_LIMIT 26
#define GROUPS 32
#define G_ACT 0
#define G_RCLAIM 1
#define G_REL 2
#define G_SKIPPED 4
#define G_SLEEP 5
#define G_NMEM 7
#define R_HELD 3
#define R_LOCK 4
#define LOCK_W 1

#define FULL (-1)
#define STOP (-2)
#define BUSY (-3)

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

typedef struct {
    PyObject_HEAD
    Py_buffer buf;
    int64_t *c;
    double *cf;
    sem_t *wlock, *glock;
    long long n, pubq, slotpos, slotver, meta0, stride_w, members, max_members, records;
    long long rw, gb, glid, group, max_groups;
    long long minrel_cache;
    /* results of next(): the position now held, the publish cursor seen, whether a writer sleeps */
    long long pos, top;
    int wake;
} Core;

static long long minrel(Core *s) {
    int64_t *c = s->c;
    long long m = -1, ng = LOAD(&c[NGROUPS]);
    for (long long g = 0; g < ng; g++) {
        long long gb = GROUPS + g * LINE;
        if (LOAD(&c[gb + G_ACT])) {
            long long v = LOAD_ACQ(&c[gb + G_REL]);
            if (m < 0 || v < m) m = v;
        }
    }
    return m > 0 ? m : 0;
}

static void recompute_rel(Core *s) {
    int64_t *c = s->c;
    long long gb = s->gb, mb = s->members + s->group * s->max_members;
    long long m = LOAD(&c[gb + G_RCLAIM]), nm = LOAD(&c[gb + G_NMEM]);
    for (long long j = 0; j < nm; j++) {
        long long h = LOAD(&c[s->records + LOAD(&c[mb + j]) * LINE + R_HELD]);
        if (h >= 0 && h < m) m = h;
    }
    STORE_REL(&c[gb + G_REL], m);
}

/* Take a lock as the Python code does: mark it in our record, try it; BUSY leaves no mark. */
static int try_lock(Core *s, sem_t *lk, long long lid) {
    STORE(&s->c[s->rw + R_LOCK], lid);
    if (sem_trywait(lk) == 0) return 1;
    STORE(&s->c[s->rw + R_LOCK], -1);
    return 0;
}

static void unlock(Core *s, sem_t *lk) {
    sem_post(lk);
    STORE(&s->c[s->rw + R_LOCK], -1);
}

static PyObject *Core_claim(Core *s, PyObject *arg) {
    long long ncalls = PyLong_AsLongLong(arg);
    if (ncalls == -1 && PyErr_Occurred()) return NULL;
    int64_t *c = s->c;
    long long n = s->n, i;
    if (!try_lock(s, s->wlock, LOCK_W)) return PyLong_FromLong(BUSY);
    long long k = LOAD(&c[WCLAIM]);
    if (k >= s->minrel_cache + n) s->minrel_cache = minrel(s);
    long long limit = LOAD(&c[CLAIM_LIMIT]);
    if (!LOAD(&c[WACT]) || (limit && k >= limit)) {
        i = STOP;
    } else if (k < s->minrel_cache + n) {
        i = k < n ? k : LOAD(&c[s->pubq + (k - n) % n]);
        if (i < 0) i = ~i;
        STORE(&c[s->rw + R_HELD], k * n + i);
        STORE(&c[s->slotpos + i], -1);
        STORE(&c[s->slotver + i], LOAD(&c[s->slotver + i]) + 1);
        STORE(&c[WCLAIM], k + 1);
    } else {
        i = FULL;
    }
    unlock(s, s->wlock);
    if (i >= 0) {
        /* an observer that sees the data change must see the new version: fence before the writes */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        long long m = s->meta0 + i * s->stride_w;
        c[m] = ncalls;
        s->cf[m + 1] = -1.0;
        s->cf[m + 2] = -1.0;
    }
    return PyLong_FromLongLong(i);
}

static PyObject *Core_publish(Core *s, PyObject *arg) {
    long long i = PyLong_AsLongLong(arg);
    if (i == -1 && PyErr_Occurred()) return NULL;
    int64_t *c = s->c;
    double *cf = s->cf;
    long long m = s->meta0 + i * s->stride_w;
    if (cf[m + 1] == -1.0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        cf[m + 1] = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    }
    double d = cf[m + 2];
    if (!try_lock(s, s->wlock, LOCK_W)) return PyLong_FromLong(BUSY);
    long long p = LOAD(&c[PUBLISH]);
    STORE(&c[s->pubq + p % s->n], i);
    STORE(&c[s->slotpos + i], p);
    if (d != 0.0) cf[DEADSUM] += d;
    STORE_REL(&c[PUBLISH], p + 1); /* the data, the metadata and pubq before the cursor */
    STORE(&c[s->rw + R_HELD], -1);
    unlock(s, s->wlock);
    long long ng = LOAD(&c[NGROUPS]);
    int wake = ng == 1 ? LOAD(&c[GROUPS + G_SLEEP]) != 0 : ng > 0;
    return PyLong_FromLong(wake);
}

static PyObject *Core_next(Core *s, PyObject *arg) {
    long long pos = PyLong_AsLongLong(arg);
    if (pos == -1 && PyErr_Occurred()) return NULL;
    int64_t *c = s->c;
    long long gb = s->gb, n = s->n, i = -1;
    if (!try_lock(s, s->glock, s->glid)) return PyLong_FromLong(BUSY);
    long long r = LOAD(&c[gb + G_RCLAIM]);
    long long top = LOAD_ACQ(&c[PUBLISH]); /* pairs with the release in publish: the data is there */
    int recompute = pos >= 0 && pos == LOAD(&c[gb + G_REL]);
    while (r < top) {
        i = LOAD(&c[s->pubq + r % n]);
        if (i >= 0) break;
        r++; /* lost or discarded: nobody will see it */
        STORE(&c[gb + G_SKIPPED], LOAD(&c[gb + G_SKIPPED]) + 1);
        recompute = 1;
        i = -1;
    }
    if (i >= 0) {
        STORE(&c[s->rw + R_HELD], r);
        STORE(&c[gb + G_RCLAIM], r + 1);
        s->pos = r;
    } else {
        STORE(&c[s->rw + R_HELD], -1);
        STORE(&c[gb + G_RCLAIM], r);
        s->pos = -1;
    }
    if (LOAD(&c[gb + G_NMEM]) == 1)
        STORE_REL(&c[gb + G_REL], r); /* our reads of the slot released before the cursor */
    else if (recompute)
        recompute_rel(s);
    unlock(s, s->glock);
    s->top = top;
    s->wake = pos >= 0 && LOAD(&c[W_SLEEP]) != 0;
    return PyLong_FromLongLong(i);
}

static PyObject *Core_load_top(Core *s, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromLongLong(LOAD_ACQ(&s->c[PUBLISH]));
}

static PyObject *fence(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored)) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    Py_RETURN_NONE;
}

static sem_t *as_sem(PyObject *o) {
    if (o == Py_None) return NULL;
    void *p = PyLong_AsVoidPtr(o);
    return (sem_t *)p;
}

static int Core_init(Core *s, PyObject *args, PyObject *kw) {
    static char *names[] = {"buffer", "words", "wlock", "glock", NULL};
    PyObject *mm, *words, *wl, *gl;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOO", names, &mm, &words, &wl, &gl)) return -1;
    long long v[13];
    if (!PyTuple_Check(words) || PyTuple_GET_SIZE(words) != 13) {
        PyErr_SetString(PyExc_ValueError, "words: a tuple of 13 offsets");
        return -1;
    }
    for (int k = 0; k < 13; k++) {
        v[k] = PyLong_AsLongLong(PyTuple_GET_ITEM(words, k));
        if (v[k] == -1 && PyErr_Occurred()) return -1;
    }
    if (s->buf.obj == NULL && PyObject_GetBuffer(mm, &s->buf, PyBUF_WRITABLE) < 0) return -1;
    s->c = (int64_t *)s->buf.buf;
    s->cf = (double *)s->buf.buf;
    s->n = v[0], s->pubq = v[1], s->slotpos = v[2], s->slotver = v[3], s->meta0 = v[4];
    s->stride_w = v[5], s->members = v[6], s->max_members = v[7], s->records = v[8];
    s->rw = v[9], s->gb = v[10], s->glid = v[11], s->group = v[12];
    s->wlock = as_sem(wl);
    s->glock = as_sem(gl);
    if (PyErr_Occurred()) return -1;
    s->minrel_cache = minrel(s);
    s->pos = s->top = -1;
    s->wake = 0;
    return 0;
}

static void Core_dealloc(Core *s) {
    if (s->buf.obj != NULL) PyBuffer_Release(&s->buf);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyMethodDef Core_methods[] = {
    {"claim", (PyCFunction)Core_claim, METH_O, "claim(ncalls) -> slot, FULL, STOP or BUSY"},
    {"publish", (PyCFunction)Core_publish, METH_O, "publish(slot) -> 1: wake readers, 0: not, BUSY"},
    {"next", (PyCFunction)Core_next, METH_O, "next(pos) -> slot, -1 (none) or BUSY; sets pos, top, wake"},
    {"load_top", (PyCFunction)Core_load_top, METH_NOARGS, "the publish cursor, loaded with acquire"},
    {NULL, NULL, 0, NULL},
};

#include <structmember.h>
static PyMemberDef Core_members[] = {
    {"pos", T_LONGLONG, offsetof(Core, pos), READONLY, NULL},
    {"top", T_LONGLONG, offsetof(Core, top), READONLY, NULL},
    {"wake", T_INT, offsetof(Core, wake), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mimocorb.ring._fastring.Core",
    .tp_basicsize = sizeof(Core),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One participant's hot critical sections on one buffer segment.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Core_init,
    .tp_dealloc = (destructor)Core_dealloc,
    .tp_methods = Core_methods,
    .tp_members = Core_members,
};

static PyMethodDef module_methods[] = {
    {"fence", fence, METH_NOARGS, "a full memory barrier"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastring", NULL, -1, module_methods};

PyMODINIT_FUNC PyInit__fastring(void) {
    if (PyType_Ready(&CoreType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&CoreType);
    if (PyModule_AddObject(m, "Core", (PyObject *)&CoreType) < 0) {
        Py_DECREF(&CoreType);
        Py_DECREF(m);
        return NULL;
    }
    PyObject *words = Py_BuildValue(
        "(iiiiiiiiiiiiiiiiiii)", LINE, WACT, NGROUPS, WCLAIM, PUBLISH, W_SLEEP, DEADSUM, CLAIM_LIMIT,
        GROUPS, G_ACT, G_RCLAIM, G_REL, G_SKIPPED, G_SLEEP, G_NMEM, R_HELD, R_LOCK, LOCK_W, BUSY);
    if (words == NULL || PyModule_AddObject(m, "WORDS", words) < 0) {
        Py_XDECREF(words);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
