#include "CLinux.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <malloc.h>
#include <unistd.h>
#include <time.h>
#include <sched.h>
#include <pthread.h>
#include <fcntl.h>
#include <string.h>
#include <sys/un.h>

const uint32_t CLinux_EPOLLIN = EPOLLIN, CLinux_EPOLLOUT = EPOLLOUT, CLinux_EPOLLERR = EPOLLERR,
    CLinux_EPOLLHUP = EPOLLHUP, CLinux_EPOLLRDHUP = EPOLLRDHUP, CLinux_EPOLLET = EPOLLET;

int CLinux_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int CLinux_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = { .events = events, .data = { .u64 = data } };
    int o = op == 1 ? EPOLL_CTL_ADD : op == 2 ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
    return epoll_ctl(epfd, o, fd, &ev);
}

int CLinux_epoll_wait(int epfd, uint32_t *events, uint64_t *datas, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n;
    do { n = epoll_wait(epfd, evs, max, timeout_ms); } while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; i++) { events[i] = evs[i].events; datas[i] = evs[i].data.u64; }
    return n;
}

int CLinux_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
int CLinux_eventfd_signal(int fd) { uint64_t one = 1; return (int)write(fd, &one, 8); }
int CLinux_eventfd_drain(int fd) { uint64_t v; return (int)read(fd, &v, 8); }

int CLinux_accept4(int fd, struct sockaddr *addr, socklen_t *len) {
    int r;
    do { r = accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC); } while (r < 0 && errno == EINTR);
    return r;
}
int CLinux_socket_nonblock(int domain, int type) {
    return socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}
int CLinux_errno(void) { return errno; }

static sigset_t handled(void) {
    sigset_t s; sigemptyset(&s);
    sigaddset(&s, SIGHUP); sigaddset(&s, SIGTERM); sigaddset(&s, SIGINT);
    sigaddset(&s, SIGQUIT); sigaddset(&s, SIGUSR1); sigaddset(&s, SIGUSR2);
    return s;
}
int CLinux_block_signals(void) {
    signal(SIGPIPE, SIG_IGN); // a peer closing mid-write must not kill the gateway
    sigset_t s = handled();
    return pthread_sigmask(SIG_BLOCK, &s, NULL);
}
int CLinux_wait_signal(int timeout_ms) {
    sigset_t s = handled();
    struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
    int r = sigtimedwait(&s, NULL, &ts);
    return r;
}
uint64_t CLinux_monotonic_ns(void) {
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
int CLinux_set_tcp_nodelay(int fd) { int one = 1; return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); }
int CLinux_set_reuseport(int fd) { int one = 1; return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one); }
int CLinux_set_reuseaddr(int fd) { int one = 1; return setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); }
int CLinux_pin_cpu(int cpu) {
    cpu_set_t set; CPU_ZERO(&set); CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}
int CLinux_getrusage_maxrss_kb(void) { struct rusage u; getrusage(RUSAGE_SELF, &u); return (int)u.ru_maxrss; }
int CLinux_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
int CLinux_spawn_closefrom(posix_spawn_file_actions_t *actions, int lowfd) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowfd);
}

int CLinux_malloc_trim(void) { return malloc_trim(0); }

static socklen_t abstract_address(struct sockaddr_un *a, const char *name) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t n = strlen(name);
    if (n > sizeof a->sun_path - 1) n = sizeof a->sun_path - 1;
    memcpy(a->sun_path + 1, name, n); // sun_path[0] = 0: the abstract namespace, gone with the process
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}
int CLinux_abstract_listen(const char *name) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    struct sockaddr_un a; socklen_t len = abstract_address(&a, name);
    if (bind(fd, (struct sockaddr *)&a, len) != 0 || listen(fd, 1) != 0) {
        int e = errno; close(fd); errno = e; return -1;
    }
    return fd;
}
int CLinux_abstract_peer_pid(const char *name) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_un a; socklen_t len = abstract_address(&a, name);
    int pid = -1;
    if (connect(fd, (struct sockaddr *)&a, len) == 0) {
        struct ucred c; socklen_t cl = sizeof c;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &cl) == 0) pid = c.pid;
    }
    close(fd);
    return pid;
}
