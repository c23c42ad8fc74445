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
#define RACT 9
#define NGROUPS 13
#define WCLAIM 28
#define PUBLISH 17
#define W_SLEEP 32
#define DEADSUM 22
#define CLAIM_LIMIT 26
#define GROUPS 40
#define GROUP_WORDS 16
#define G_RCLAIM 0
#define G_REL 1
#define G_SKIPPED 2
#define G_ACT 8
#define G_SLEEP 10
#define G_NMEM 12
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
    long long rw, gb, glid, group, wake_batch;
    long long minrel_cache;
    /* results of next(): the position now held, the publish cursor seen, whether to wake a writer */
    long long pos, top;
    int wake;
    /* bind(): a weak reference to the participant (whose attributes _slot, _ncalls, _pos the calls
       keep up to date: its Python code reads them), its list of slot views, and the functions of its
       class for what the compiled calls leave to Python (see the HOOK_ names). Weak, because the
       participant holds the bound calls: a cycle would keep it from being closed when it is dropped. */
    PyObject *owner, *views, *hooks;
} Core;

/* the hooks of a writer: (get_new_buffer in Python, process_buffer in Python, wake readers, view);
   of a reader: (get in Python, wait for the next event, wake a writer, view) */
enum { HOOK_SLOW, HOOK_SLOW2, HOOK_WAKE, HOOK_VIEW, N_HOOKS };

static PyObject *k_slot, *k_ncalls, *k_pos;

static int get_ll(PyObject *dict, PyObject *key, long long *out) {
    PyObject *v = PyDict_GetItemWithError(dict, key);
    if (v == NULL) {
        if (!PyErr_Occurred()) PyErr_SetObject(PyExc_AttributeError, key);
        return -1;
    }
    *out = PyLong_AsLongLong(v);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int set_ll(PyObject *dict, PyObject *key, long long value) {
    PyObject *v = PyLong_FromLongLong(value);
    if (v == NULL) return -1;
    int rc = PyDict_SetItem(dict, key, v);
    Py_DECREF(v);
    return rc;
}

/* the participant (borrowed) and its attribute dict (a new reference), or NULL with an exception */
static PyObject *owner_dict(Core *s, PyObject **owner) {
    *owner = PyWeakref_GetObject(s->owner);
    if (*owner == NULL) return NULL;
    if (*owner == Py_None) {
        PyErr_SetString(PyExc_RuntimeError, "the participant of this ring call is gone");
        return NULL;
    }
    return PyObject_GenericGetDict(*owner, NULL);
}

/* a function of the participant's class, called on it: hook(owner) or hook(owner, arg) */
static PyObject *hook(Core *s, int which, PyObject *owner, PyObject *arg) {
    PyObject *argv[2] = {owner, arg};
    return PyObject_Vectorcall(PyTuple_GET_ITEM(s->hooks, which), argv, arg == NULL ? 1 : 2, NULL);
}

/* the view of slot i, made by the Python side on first use */
static PyObject *view_of(Core *s, PyObject *owner, long long i) {
    PyObject *v = PyList_GET_ITEM(s->views, i);
    if (v != Py_None) {
        Py_INCREF(v);
        return v;
    }
    PyObject *idx = PyLong_FromLongLong(i);
    if (idx == NULL) return NULL;
    v = hook(s, HOOK_VIEW, owner, idx);
    Py_DECREF(idx);
    return v;
}

static long long minrel(Core *s) {
    int64_t *c = s->c;
    long long m = -1, ng = LOAD(&c[NGROUPS]);
    for (long long g = 0; g < ng; g++) {
        long long gb = GROUPS + g * GROUP_WORDS;
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

/* The claim of Writer.get_new_buffer: a slot (its metadata preset), FULL, STOP or BUSY. */
static long long do_claim(Core *s, long long ncalls) {
    int64_t *c = s->c;
    long long n = s->n, i;
    if (!try_lock(s, s->wlock, LOCK_W)) return BUSY;
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
    return i;
}

/* The commit of Writer.process_buffer: 1 if readers may sleep (wake them), 0 if not, or BUSY. */
static int do_publish(Core *s, long long i) {
    int64_t *c = s->c;
    double *cf = s->cf;
    long long m = s->meta0 + i * s->stride_w;
    if (cf[m + 1] == -1.0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        cf[m + 1] = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    }
    double d = cf[m + 2];
    if (!try_lock(s, s->wlock, LOCK_W)) return BUSY;
    long long p = LOAD(&c[PUBLISH]);
    STORE(&c[s->pubq + p % s->n], i);
    STORE(&c[s->slotpos + i], p);
    if (d != 0.0) cf[DEADSUM] += d;
    STORE_REL(&c[PUBLISH], p + 1); /* the data, the metadata and pubq before the cursor */
    STORE(&c[s->rw + R_HELD], -1);
    unlock(s, s->wlock);
    long long ng = LOAD(&c[NGROUPS]);
    return ng == 1 ? LOAD(&c[GROUPS + G_SLEEP]) != 0 : ng > 0;
}

/* Reader._next without a sleep to end: release position pos, claim the group's next live one; the
   slot, -1 if nothing is pending, or BUSY. Sets pos, top and wake. */
static long long do_next(Core *s, long long pos) {
    int64_t *c = s->c;
    long long gb = s->gb, n = s->n, i = -1;
    if (!try_lock(s, s->glock, s->glid)) return BUSY;
    long long r = LOAD(&c[gb + G_RCLAIM]);
    /* positions below a publish cursor loaded before stay published (and their data visible): the
       cursor's line, which the writers keep changing, is fetched only when they are used up */
    long long top = s->top;
    if (r >= top) top = LOAD_ACQ(&c[PUBLISH]); /* pairs with the release in publish */
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
    s->wake = 0;
    if (pos >= 0 && LOAD(&c[W_SLEEP])) { /* a writer sleeps: wake it once a batch is free (or we ran dry) */
        long long free = minrel(s) + n - LOAD(&c[WCLAIM]);
        s->wake = free >= s->wake_batch || (free > 0 && LOAD(&c[gb + G_RCLAIM]) >= top);
    }
    return i;
}

static PyObject *Core_claim(Core *s, PyObject *arg) {
    long long ncalls = PyLong_AsLongLong(arg);
    if (ncalls == -1 && PyErr_Occurred()) return NULL;
    return PyLong_FromLongLong(do_claim(s, ncalls));
}

static PyObject *Core_publish(Core *s, PyObject *arg) {
    long long i = PyLong_AsLongLong(arg);
    if (i == -1 && PyErr_Occurred()) return NULL;
    return PyLong_FromLong(do_publish(s, i));
}

static PyObject *Core_next(Core *s, PyObject *arg) {
    long long pos = PyLong_AsLongLong(arg);
    if (pos == -1 && PyErr_Occurred()) return NULL;
    return PyLong_FromLongLong(do_next(s, pos));
}

/* ---- the per-event calls themselves, bound to a participant (bind()) ---------------------------- */

static int bound(Core *s) {
    if (s->hooks != NULL) return 1;
    PyErr_SetString(PyExc_RuntimeError, "Core.bind() was not called");
    return 0;
}

/* the one argument of the calls: timeout, by position or by name (borrowed; Py_None by default) */
static PyObject *timeout_arg(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs + nkw > 1 || (nkw && PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "timeout") != 0)) {
        PyErr_SetString(PyExc_TypeError, "takes one argument at most: timeout");
        return NULL;
    }
    return nargs + nkw ? args[0] : Py_None;
}

/* Writer.get_new_buffer(timeout=None): the claim and its bookkeeping here; a previous slot still to
   commit, a full ring, the end of the stream or a busy lock go to the Python code */
static PyObject *Core_get_new_buffer(Core *s, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *timeout = timeout_arg(args, nargs, kwnames), *owner, *d, *r = NULL;
    if (timeout == NULL || !bound(s) || (d = owner_dict(s, &owner)) == NULL) return NULL;
    long long slot, ncalls, i;
    if (get_ll(d, k_slot, &slot) < 0 || get_ll(d, k_ncalls, &ncalls) < 0) goto done;
    if (slot >= 0 || (i = do_claim(s, ncalls)) < 0) {
        r = hook(s, HOOK_SLOW, owner, timeout);
        goto done;
    }
    if (set_ll(d, k_ncalls, ncalls + 1) == 0 && set_ll(d, k_slot, i) == 0) r = view_of(s, owner, i);
done:
    Py_DECREF(d);
    return r;
}

/* Writer.process_buffer(): the commit here, a busy lock to the Python code */
static PyObject *Core_process_buffer(Core *s, PyObject *Py_UNUSED(ignored)) {
    PyObject *owner, *d, *r = NULL;
    if (!bound(s) || (d = owner_dict(s, &owner)) == NULL) return NULL;
    long long slot;
    int wake;
    if (get_ll(d, k_slot, &slot) < 0) goto done;
    if (slot < 0) {
        r = Py_NewRef(Py_None);
    } else if ((wake = do_publish(s, slot)) == BUSY) {
        r = hook(s, HOOK_SLOW2, owner, NULL);
    } else if (set_ll(d, k_slot, -1) == 0) {
        r = wake ? hook(s, HOOK_WAKE, owner, NULL) : Py_NewRef(Py_None);
    }
done:
    Py_DECREF(d);
    return r;
}

/* the slot Reader.get hands out, after the claim (i: its result) */
static PyObject *got(Core *s, PyObject *owner, PyObject *d, long long i, PyObject *timeout) {
    if (set_ll(d, k_pos, s->pos) < 0 || set_ll(d, k_slot, i) < 0) return NULL;
    if (s->wake) {
        PyObject *top = PyLong_FromLongLong(s->top), *r = top ? hook(s, HOOK_WAKE, owner, top) : NULL;
        Py_XDECREF(top);
        if (r == NULL) return NULL;
        Py_DECREF(r);
    }
    if (i < 0) { /* nothing pending: the Python code waits and returns the slot */
        PyObject *r = hook(s, HOOK_SLOW2, owner, timeout);
        if (r == NULL) return NULL;
        i = PyLong_AsLongLong(r);
        Py_DECREF(r);
        if (i == -1 && PyErr_Occurred()) return NULL;
    }
    return view_of(s, owner, i);
}

/* Reader.get(timeout=None): the claim here; the end of the stream, a busy lock and the wait for an
   event to the Python code */
static PyObject *Core_get(Core *s, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *timeout = timeout_arg(args, nargs, kwnames), *owner, *d, *r = NULL;
    if (timeout == NULL || !bound(s) || (d = owner_dict(s, &owner)) == NULL) return NULL;
    long long pos, i;
    if (get_ll(d, k_pos, &pos) == 0) {
        if (!LOAD(&s->c[RACT]) || (i = do_next(s, pos)) == BUSY)
            r = hook(s, HOOK_SLOW, owner, timeout);
        else
            r = got(s, owner, d, i, timeout);
    }
    Py_DECREF(d);
    return r;
}

static PyObject *Core_bind(Core *s, PyObject *args) {
    PyObject *owner, *views, *hooks, *ref;
    if (!PyArg_ParseTuple(args, "OO!O!", &owner, &PyList_Type, &views, &PyTuple_Type, &hooks)) return NULL;
    if (PyList_GET_SIZE(views) != s->n || PyTuple_GET_SIZE(hooks) != N_HOOKS) {
        PyErr_SetString(PyExc_ValueError, "bind(participant, views of every slot, hooks)");
        return NULL;
    }
    if ((ref = PyWeakref_NewRef(owner, NULL)) == NULL) return NULL;
    Py_XSETREF(s->owner, ref);
    Py_XSETREF(s->views, Py_NewRef(views));
    Py_XSETREF(s->hooks, Py_NewRef(hooks));
    Py_RETURN_NONE;
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
    long long v[14];
    if (!PyTuple_Check(words) || PyTuple_GET_SIZE(words) != 14) {
        PyErr_SetString(PyExc_ValueError, "words: a tuple of 14 offsets and sizes");
        return -1;
    }
    for (int k = 0; k < 14; k++) {
        v[k] = PyLong_AsLongLong(PyTuple_GET_ITEM(words, k));
        if (v[k] == -1 && PyErr_Occurred()) return -1;
    }
    if (s->buf.obj == NULL && PyObject_GetBuffer(mm, &s->buf, PyBUF_WRITABLE) < 0) return -1;
    s->c = (int64_t *)s->buf.buf;
    s->cf = (double *)s->buf.buf;
    s->n = v[0], s->pubq = v[1], s->slotpos = v[2], s->slotver = v[3], s->meta0 = v[4];
    s->stride_w = v[5], s->members = v[6], s->max_members = v[7], s->records = v[8];
    s->rw = v[9], s->gb = v[10], s->glid = v[11], s->group = v[12], s->wake_batch = v[13];
    s->wlock = as_sem(wl);
    s->glock = as_sem(gl);
    if (PyErr_Occurred()) return -1;
    s->minrel_cache = minrel(s);
    s->pos = s->top = -1;
    s->wake = 0;
    return 0;
}

static int Core_traverse(Core *s, visitproc visit, void *arg) {
    Py_VISIT(s->owner);
    Py_VISIT(s->views);
    Py_VISIT(s->hooks);
    return 0;
}

static int Core_clear(Core *s) {
    Py_CLEAR(s->owner);
    Py_CLEAR(s->views);
    Py_CLEAR(s->hooks);
    return 0;
}

static void Core_dealloc(Core *s) {
    PyObject_GC_UnTrack(s);
    Core_clear(s);
    if (s->buf.obj != NULL) PyBuffer_Release(&s->buf);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyMethodDef Core_methods[] = {
    {"claim", (PyCFunction)Core_claim, METH_O, "claim(ncalls) -> slot, FULL, STOP or BUSY"},
    {"publish", (PyCFunction)Core_publish, METH_O, "publish(slot) -> 1: wake readers, 0: not, BUSY"},
    {"next", (PyCFunction)Core_next, METH_O, "next(pos) -> slot, -1 (none) or BUSY; sets pos, top, wake"},
    {"load_top", (PyCFunction)Core_load_top, METH_NOARGS, "the publish cursor, loaded with acquire"},
    {"bind", (PyCFunction)Core_bind, METH_VARARGS, "bind(participant, views list, hooks tuple)"},
    {"get_new_buffer", (PyCFunction)(void (*)(void))Core_get_new_buffer, METH_FASTCALL | METH_KEYWORDS, "Writer.get_new_buffer"},
    {"process_buffer", (PyCFunction)Core_process_buffer, METH_NOARGS, "Writer.process_buffer"},
    {"get", (PyCFunction)(void (*)(void))Core_get, METH_FASTCALL | METH_KEYWORDS, "Reader.get"},
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
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)Core_traverse,
    .tp_clear = (inquiry)Core_clear,
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
    k_slot = PyUnicode_InternFromString("_slot");
    k_ncalls = PyUnicode_InternFromString("_ncalls");
    k_pos = PyUnicode_InternFromString("_pos");
    if (k_slot == NULL || k_ncalls == NULL || k_pos == NULL) return NULL;
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
        "(iiiiiiiiiiiiiiiiiiiii)", LINE, WACT, RACT, NGROUPS, WCLAIM, PUBLISH, W_SLEEP, DEADSUM, CLAIM_LIMIT,
        GROUPS, GROUP_WORDS, G_ACT, G_RCLAIM, G_REL, G_SKIPPED, G_SLEEP, G_NMEM, R_HELD, R_LOCK, LOCK_W, BUSY);
    if (words == NULL || PyModule_AddObject(m, "WORDS", words) < 0) {
        Py_XDECREF(words);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
