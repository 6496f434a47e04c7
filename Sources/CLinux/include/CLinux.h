// Linux calls that Glibc does not expose cleanly to Swift (epoll's packed struct, eventfd,
// timerfd, accept4, signalfd), each prefixed with the module name.
#ifndef CLINUX_H
#define CLINUX_H
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <signal.h>
#include <spawn.h>

int CLinux_epoll_create(void);
/// op: 1 add, 2 mod, 3 del. events: EPOLL* bit set. data: opaque 64-bit token.
int CLinux_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// Waits; fills the parallel arrays; returns count, or -1 with errno.
int CLinux_epoll_wait(int epfd, uint32_t *events, uint64_t *datas, int max, int timeout_ms);

extern const uint32_t CLinux_EPOLLIN, CLinux_EPOLLOUT, CLinux_EPOLLERR, CLinux_EPOLLHUP,
    CLinux_EPOLLRDHUP, CLinux_EPOLLET;

int CLinux_eventfd(void);
int CLinux_eventfd_signal(int fd);
int CLinux_eventfd_drain(int fd);

/// accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC; fills the peer address.
int CLinux_accept4(int fd, struct sockaddr *addr, socklen_t *len);
int CLinux_socket_nonblock(int domain, int type);
int CLinux_errno(void);

/// Blocks the signals the gateway handles in the calling thread (and threads it creates).
int CLinux_block_signals(void);
/// Waits for one of the blocked signals; returns the signal number or -1.
int CLinux_wait_signal(int timeout_ms);
/// Monotonic clock in nanoseconds.
uint64_t CLinux_monotonic_ns(void);
int CLinux_set_tcp_nodelay(int fd);
int CLinux_set_reuseport(int fd);
int CLinux_set_reuseaddr(int fd);
int CLinux_pin_cpu(int cpu);
int CLinux_getrusage_maxrss_kb(void);
/// Returns freed heap to the system (after loading a large state file at start).
int CLinux_malloc_trim(void);
/// pipe2 with O_CLOEXEC (the master key command's output).
int CLinux_pipe_cloexec(int fds[2]);
/// posix_spawn_file_actions_addclosefrom_np: the child keeps only descriptors below `lowfd`.
int CLinux_spawn_closefrom(posix_spawn_file_actions_t *actions, int lowfd);
/// An instance lock: a listening socket in the abstract namespace (released when the process
/// ends, however it ends). -1 with errno EADDRINUSE: another process holds `name`.
int CLinux_abstract_listen(const char *name);
/// The pid of the process listening on the abstract socket `name` (SO_PEERCRED), or -1.
int CLinux_abstract_peer_pid(const char *name);
/// Relaxed atomic 64-bit words for counters one thread writes and another reads (metrics,
/// upstream health): plain loads and stores on x86-64 and arm64, but free of data races.
static inline uint64_t CLinux_relaxed_load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void CLinux_relaxed_store(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
/// Single writer: load + store, no locked instruction.
static inline void CLinux_relaxed_bump(uint64_t *p, uint64_t v) {
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}
/// Several writers (off the hot path: failures, sign-ins).
static inline uint64_t CLinux_relaxed_add(uint64_t *p, uint64_t v) { return __atomic_add_fetch(p, v, __ATOMIC_RELAXED); }

#endif
