#include "LuaShim.h"
#include <string.h>
#include <stdio.h>

/* MARK: - the trampoline */

/* Whether the value at objidx is a field (to `level` tables deep) of the table on top: if so,
 * pushes its dotted name after the table's key and returns 1. */
static int find_field(lua_State *L, int objidx, int level) {
    if (level == 0 || lua_type(L, -1) != LUA_TTABLE) return 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {                                   /* table key value */
        if (lua_type(L, -2) == LUA_TSTRING) {
            if (lua_rawequal(L, objidx, -1)) { lua_pop(L, 1); return 1; }    /* table key */
            if (find_field(L, objidx, level - 1)) {             /* table key value subname */
                lua_pushliteral(L, ".");
                lua_replace(L, -3);                             /* table key "." subname */
                lua_concat(L, 3);                               /* table "key.subname" */
                return 1;
            }
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* Pushes the name of the running function as a field of the loaded modules ("lesion.tensor.from",
 * as lauxlib would name it) and returns 1, or returns 0 and pushes nothing. */
static int push_loaded_name(lua_State *L) {
    int top = lua_gettop(L);
    lua_Debug ar;
    if (!lua_getstack(L, 0, &ar)) return 0;
    lua_getinfo(L, "f", &ar);                                   /* fn */
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);       /* fn loaded */
    if (!find_field(L, top + 1, 2)) { lua_settop(L, top); return 0; }
    const char *name = lua_tostring(L, -1);                     /* fn loaded name */
    if (strncmp(name, LUA_GNAME ".", 3) == 0) lua_pushstring(L, name + 3); else lua_pushvalue(L, -1);
    lua_copy(L, -1, top + 1);
    lua_settop(L, top + 1);
    return 1;
}

/* luaL_argerror's message, but a call Lua cannot name (pcall(t.reshape, ...)) takes the name of
 * the module field it is, or else the binding's own name (under the detail on the stack). */
static int arg_error(lua_State *L, int arg) {
    const char *detail = lua_tostring(L, -1);
    if (!detail) detail = "?";
    lua_Debug ar;
    if (lua_getstack(L, 0, &ar)) {
        lua_getinfo(L, "n", &ar);
        if (ar.name == NULL) {
            const char *own = lua_tostring(L, -2);
            if (!push_loaded_name(L)) lua_pushstring(L, own ? own : "?");
            return luaL_error(L, "bad argument #%d to '%s' (%s)", arg, lua_tostring(L, -1), detail);
        }
    }
    return luaL_argerror(L, arg, detail);
}

static int trampoline(lua_State *L) {
    lesion_Function f = (lesion_Function)lua_touserdata(L, lua_upvalueindex(1));
    int n = f(L);
    if (n >= 0) return n;
    if (n == LESION_ERROR) {
        /* Prefix the message with the caller's position, as luaL_error does. */
        if (lua_type(L, -1) == LUA_TSTRING) {
            luaL_where(L, 1);
            lua_insert(L, -2);
            lua_concat(L, 2);
        }
        return lua_error(L);
    }
    if (n == LESION_PASS_ON) return lua_error(L);
    return arg_error(L, -(n + 1));
}

void lesion_pushfunction(lua_State *L, lesion_Function f) {
    lua_pushlightuserdata(L, (void *)f);
    lua_pushcclosure(L, trampoline, 1);
}

/* MARK: - limits */

#include <time.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>

static long long limit_deadline_ns = 0;
static size_t limit_bytes = 0;
static size_t (*limit_other_bytes)(void) = NULL;
static char *limit_time_message = NULL, *limit_memory_message = NULL;
static _Atomic size_t lua_bytes_seen = 0;

size_t lesion_lua_bytes_seen(void) { return lua_bytes_seen; }

/* Ctrl-C (SIGINT) or SIGTERM: the first ends the run as an error at the next hook or pass over
 * data, so that the run folder keeps what finished; a second ends the process at once. */
/* Lock-free atomics are safe in a signal handler; any thread's hook reads the flag. */
#include <stdatomic.h>
static atomic_int interrupted = 0;
static int watching_interrupts = 0;

static void on_interrupt(int sig) {
    if (atomic_load(&interrupted)) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    atomic_store(&interrupted, sig);
}

int lesion_interrupted(void) { return atomic_load(&interrupted); }

/* The allocator's state (below, with the allocator): shared by every Lua state of the process,
 * which may run on different threads. */
#include <stdatomic.h>
static _Atomic(void *) alloc_reserve = NULL;
static atomic_int alloc_exhausted = 0;
static atomic_llong alloc_count = 0, alloc_fail_at = -1;

static void limits_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    int reported = 1;
    if (atomic_compare_exchange_strong(&alloc_exhausted, &reported, 2)) {
        /* raised once; a second failure stops the process */
        lua_pushstring(L, "out of memory: Lua's allocator failed (its reserve let the run end cleanly)");
        lua_error(L);
    }
    int signal_seen = atomic_load(&interrupted);
    if (signal_seen) {
        lua_pushstring(L, signal_seen == SIGINT ? "interrupted (Ctrl-C); a second Ctrl-C stops at once"
                                                : "interrupted (terminated by a signal)");
        lua_error(L);
    }
    if (limit_deadline_ns > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if ((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec > limit_deadline_ns) {
            lua_pushstring(L, limit_time_message ? limit_time_message : "the time limit was reached");
            lua_error(L);
        }
    }
    if (limit_bytes > 0) {
        size_t used = (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
        lua_bytes_seen = used;
        if (limit_other_bytes) used += limit_other_bytes();
        if (used > limit_bytes) {
            lua_gc(L, LUA_GCCOLLECT, 0);
            used = (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
            lua_bytes_seen = used;
            if (limit_other_bytes) used += limit_other_bytes();
            if (used > limit_bytes) {
                lua_pushstring(L, limit_memory_message ? limit_memory_message : "the memory limit was reached");
                lua_error(L);
            }
        }
    }
}

void lesion_set_limits(lua_State *L, long long deadline_ns, const char *time_message, size_t max_bytes,
                       size_t (*other_bytes)(void), const char *memory_message) {
    limit_deadline_ns = deadline_ns;
    limit_bytes = max_bytes;
    limit_other_bytes = other_bytes;
    free(limit_time_message);
    free(limit_memory_message);
    limit_time_message = time_message ? strdup(time_message) : NULL;
    limit_memory_message = memory_message ? strdup(memory_message) : NULL;
    if (deadline_ns > 0 || max_bytes > 0 || watching_interrupts || atomic_load(&alloc_fail_at) >= 0) lua_sethook(L, limits_hook, LUA_MASKCOUNT, 10000);
    else lua_sethook(L, NULL, 0, 0);
}

void lesion_catch_interrupts(lua_State *L) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    watching_interrupts = 1;
    lua_sethook(L, limits_hook, LUA_MASKCOUNT, 10000);
}

void lesion_pushclosure(lua_State *L, lesion_Function f, int n) {
    lua_pushlightuserdata(L, (void *)f);
    lua_insert(L, -(n + 1));
    lua_pushcclosure(L, trampoline, n + 1);
}

/* MARK: - running chunks */

int lesion_msghandler(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int lesion_pcall_traceback(lua_State *L, int nargs, int nresults) {
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, lesion_msghandler);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

/* MARK: - macros as functions */

int lesion_registryindex(void) { return LUA_REGISTRYINDEX; }
int lesion_upvalueindex(int i) { return lua_upvalueindex(i); }
int lesion_pcall(lua_State *L, int nargs, int nresults, int msgh) { return lua_pcall(L, nargs, nresults, msgh); }
void lesion_pop(lua_State *L, int n) { lua_pop(L, n); }
void lesion_newtable(lua_State *L) { lua_newtable(L); }
const char *lesion_tostring(lua_State *L, int idx) { return lua_tostring(L, idx); }
void lesion_insert(lua_State *L, int idx) { lua_insert(L, idx); }
void lesion_remove(lua_State *L, int idx) { lua_remove(L, idx); }
void *lesion_getextraspace(lua_State *L) { return lua_getextraspace(L); }
int lesion_getmetatable_named(lua_State *L, const char *name) { return luaL_getmetatable(L, name); }
int lesion_isinteger_number(lua_State *L, int idx) { return lua_isinteger(L, idx); }

int lesion_gc_collect(lua_State *L) { return lua_gc(L, LUA_GCCOLLECT); }
int lesion_gc_count_bytes(lua_State *L) { return lua_gc(L, LUA_GCCOUNT) * 1024 + lua_gc(L, LUA_GCCOUNTB); }
void lesion_gc_step(lua_State *L, int kbytes) { lua_gc(L, LUA_GCSTEP, kbytes); }

int lesion_loadfile(lua_State *L, const char *path) { return luaL_loadfilex(L, path, NULL); }
int lesion_loadbuffer(lua_State *L, const char *buf, size_t len, const char *chunkname) {
    return luaL_loadbufferx(L, buf, len, chunkname, NULL);
}

void lesion_write_stdout(const char *s, size_t n) {
    fwrite(s, 1, n, stdout);
    fflush(stdout);
}

/* MARK: - the allocator */

/* Lua's allocator with an emergency reserve. A failing allocation would make Lua raise a memory
 * error, which longjmps; when Swift code is pushing a value at that moment the jump would cross
 * Swift frames. So the first failure frees the reserve and retries (the push succeeds), and the
 * hook raises "out of memory" at the next point where Lua code runs. Should the retry fail too,
 * the process stops with a message instead of jumping over Swift. LESION_ALLOC_FAIL_AT=n makes
 * the n-th allocation fail once (a test of this path). */
static void *lesion_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud; (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    long long fail_at = atomic_load(&alloc_fail_at);
    void *p = fail_at >= 0 && atomic_fetch_add(&alloc_count, 1) + 1 == fail_at ? NULL : realloc(ptr, nsize);
    if (p == NULL) {
        void *reserve = atomic_exchange(&alloc_reserve, NULL);
        if (reserve != NULL) {
            free(reserve);
            atomic_store(&alloc_exhausted, 1);
            p = realloc(ptr, nsize);
        }
    }
    if (p == NULL) {
        fputs("lesion: out of memory in Lua's allocator, after its reserve was used; stopping\n", stderr);
        abort();
    }
    return p;
}

static int lesion_panic(lua_State *L) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "lesion: unprotected Lua error: %s\n", msg ? msg : "(not a string)");
    abort();
}

int lesion_out_of_memory(void) { return atomic_load(&alloc_exhausted); }

lua_State *lesion_newstate(void) {
    if (atomic_load(&alloc_reserve) == NULL && !atomic_load(&alloc_exhausted)) {
        void *reserve = malloc(64u << 20), *none = NULL;
        if (!atomic_compare_exchange_strong(&alloc_reserve, &none, reserve)) free(reserve);
    }
    const char *fail = getenv("LESION_ALLOC_FAIL_AT");
    if (fail) atomic_store(&alloc_fail_at, atoll(fail));
    lua_State *L = lua_newstate(lesion_alloc, NULL);
    if (L) lua_atpanic(L, lesion_panic);
    return L;
}
