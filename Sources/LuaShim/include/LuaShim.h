/* LuaShim: the only code in Lesion that raises Lua errors, plus functions for Lua's macros.
 *
 * Swift functions bound into Lua never call lua_error (a longjmp must not cross a Swift frame).
 * They have the type lesion_Function and return
 *   n >= 0          the number of results, as a lua_CFunction does;
 *   LESION_ERROR    (-1) an error: the message is on top of the stack;
 *   -(1 + k), k>=1  a bad argument k: the detail ("number expected, got nil") is on top, the
 *                   function's own name ("reshape") under it, for calls Lua cannot name;
 *   LESION_PASS_ON  an error of Lua code the function called, passed on: the message is on top
 *                   and is raised as it is (it already names where it happened).
 * lesion_pushfunction wraps one in a C closure whose trampoline turns the sentinels into
 * lua_error / luaL_argerror after the Swift frame has returned. */
#ifndef LESION_LUASHIM_H
#define LESION_LUASHIM_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#define LESION_ERROR (-1)
#define LESION_PASS_ON (-2147483647)

typedef int (*lesion_Function)(lua_State *L);

/* Pushes f as a Lua function (a closure of the trampoline). */
void lesion_pushfunction(lua_State *L, lesion_Function f);

/* Limits on a running script (lesion run --timeout, --max-memory), checked by a count hook
 * every few thousand instructions, where raising an error crosses no Swift frame: the wall
 * time past deadline_ns (CLOCK_MONOTONIC; 0: none), and the bytes of the Lua state plus
 * other_bytes() (tensors) past max_bytes (0: none). The messages are raised as they are. */
void lesion_set_limits(lua_State *L, long long deadline_ns, const char *time_message, size_t max_bytes,
                       size_t (*other_bytes)(void), const char *memory_message);

/* The bytes of the Lua state with limits, as its hook last saw them (any thread may ask). */
size_t lesion_lua_bytes_seen(void);

/* Pushes f as a Lua function whose upvalues 2 ... n + 1 are the n values on top of the stack
 * (popped); f reads them at lesion_upvalueindex(2) and on. */
void lesion_pushclosure(lua_State *L, lesion_Function f, int n);

/* Message handler for lua_pcall: the message (tostring'd) followed by a traceback. */
int lesion_msghandler(lua_State *L);

/* Loads and runs: status as lua_pcall; on error the message with traceback is on top. */
int lesion_pcall_traceback(lua_State *L, int nargs, int nresults);

/* Macros of lua.h / lauxlib.h as functions. */
int lesion_registryindex(void);
int lesion_upvalueindex(int i);
int lesion_pcall(lua_State *L, int nargs, int nresults, int msgh);
void lesion_pop(lua_State *L, int n);
void lesion_newtable(lua_State *L);
const char *lesion_tostring(lua_State *L, int idx);
void lesion_insert(lua_State *L, int idx);
void lesion_remove(lua_State *L, int idx);
void *lesion_getextraspace(lua_State *L);
int lesion_getmetatable_named(lua_State *L, const char *name);
int lesion_isinteger_number(lua_State *L, int idx);

/* lua_gc is variadic, which Swift cannot call. */
int lesion_gc_collect(lua_State *L);
int lesion_gc_count_bytes(lua_State *L);
void lesion_gc_step(lua_State *L, int kbytes);

/* Loads a file or a buffer without running it (never raises). */
int lesion_loadfile(lua_State *L, const char *path);
int lesion_loadbuffer(lua_State *L, const char *buf, size_t len, const char *chunkname);

/* Writes n bytes to C's stdout and flushes (the stream Lua's print and io.write use). */
void lesion_write_stdout(const char *s, size_t n);

/* Makes SIGINT and SIGTERM end the run as an error of the script (at the next hook, or of a pass
 * over data through lesion_interrupted), so that the run folder is written; a second signal ends
 * the process at once. */
void lesion_catch_interrupts(lua_State *L);
/* The signal that interrupted the run, or 0. */
int lesion_interrupted(void);

/* A Lua state whose allocator keeps an emergency reserve: an allocation that fails while Swift
 * pushes a value succeeds from the reserve, and the run ends with "out of memory" at the next
 * hook instead of a longjmp across Swift frames. */
lua_State *lesion_newstate(void);
/* Whether the reserve has been used. */
int lesion_out_of_memory(void);

#endif
