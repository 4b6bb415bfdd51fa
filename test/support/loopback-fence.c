/*
 * A syscall-level fence for the test browser, loaded with LD_PRELOAD: connect(), sendto() and
 * sendmsg() to any address outside 127.0.0.0/8 and ::1 fail with ENETUNREACH before the system
 * call is made, so nothing the browser does (its own IPv6 reachability probe included, a UDP
 * connect() to [2001:4860:4860::8888]:443 measured with strace) can address another machine.
 * Unix sockets and loopback pass through untouched. Built by test/support/browser.ts.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static int outside(const struct sockaddr *a) {
  if (a == NULL) return 0;
  if (a->sa_family == AF_INET) {
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)a;
    return (ntohl(v4->sin_addr.s_addr) >> 24) != 127;
  }
  if (a->sa_family == AF_INET6) {
    const struct in6_addr *v6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(v6)) return 0;
    if (IN6_IS_ADDR_V4MAPPED(v6)) return v6->s6_addr[12] != 127;
    return 1;
  }
  return 0;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
  static int (*real)(int, const struct sockaddr *, socklen_t);
  if (outside(addr)) { errno = ENETUNREACH; return -1; }
  if (!real) real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
  return real(fd, addr, len);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr, socklen_t len) {
  static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
  if (outside(addr)) { errno = ENETUNREACH; return -1; }
  if (!real) real = (ssize_t (*)(int, const void *, size_t, int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "sendto");
  return real(fd, buf, n, flags, addr, len);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  static ssize_t (*real)(int, const struct msghdr *, int);
  if (msg != NULL && outside((const struct sockaddr *)msg->msg_name)) { errno = ENETUNREACH; return -1; }
  if (!real) real = (ssize_t (*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
  return real(fd, msg, flags);
}
