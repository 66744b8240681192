#include "LuaShim.h"

/* MARK: - the trampoline */

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
    /* Bad argument -(n+1): let luaL_argerror name the function and skip 'self' for methods. */
    const char *detail = lua_tostring(L, -1);
    return luaL_argerror(L, -(n + 1), detail ? detail : "?");
}

void lesion_pushfunction(lua_State *L, lesion_Function f) {
    lua_pushlightuserdata(L, (void *)f);
    lua_pushcclosure(L, trampoline, 1);
}

/* MARK: - limits */

#include <time.h>
#include <string.h>
#include <stdlib.h>

static long long limit_deadline_ns = 0;
static size_t limit_bytes = 0;
static size_t (*limit_other_bytes)(void) = NULL;
static char *limit_time_message = NULL, *limit_memory_message = NULL;
static _Atomic size_t lua_bytes_seen = 0;

size_t lesion_lua_bytes_seen(void) { return lua_bytes_seen; }

static void limits_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
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
    if (deadline_ns > 0 || max_bytes > 0) lua_sethook(L, limits_hook, LUA_MASKCOUNT, 10000);
    else lua_sethook(L, NULL, 0, 0);
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
