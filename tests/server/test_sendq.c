/* test_sendq.c - the bytes a draining server still owes its clients:
 * parsing /proc/net/tcp and tcp6 tables (only the server's port, never the
 * listening socket, header and junk ignored), and a real loopback
 * connection whose client does not read: its queued bytes are seen, still
 * after the server closes the socket, and are gone once the client has
 * read them all. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/sendq.h"

#define HEADER                                                                 \
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "      \
    "retrnsmt   uid  timeout inode\n"

Test(sendq, sums_the_ports_sockets_but_not_the_listener)
{
    const char *table = HEADER
        "   0: 0100007F:1F90 00000000:0000 0A 00000005:00000000 00:00000000 "
        "00000000     0        0 1 1 0 100 0 0 10 0\n"
        "   1: 0100007F:1F90 0100007F:D2F0 01 00000100:00000000 01:00000014 "
        "00000000 10001        0 2 1 0 20 4 30 10 -1\n"
        "   2: 0100007F:1F91 0100007F:D2F1 01 00000200:00000000 01:00000014 "
        "00000000 10001        0 3 1 0 20 4 30 10 -1\n"
        "   3: 0100007F:D2F2 0100007F:1F90 01 00000400:00000000 01:00000014 "
        "00000000 10001        0 4 1 0 20 4 30 10 -1\n"
        "   4: 0100007F:1F90 0100007F:D2F3 04 00000010:00000000 01:00000014 "
        "00000000 10001        0 0 1 0 20 4 30 10 -1\n";
    cr_assert_eq(bgs_sendq_parse(table, 8080), 0x110);
    cr_assert_eq(bgs_sendq_parse(table, 8081), 0x200);
    cr_assert_eq(bgs_sendq_parse(table, 8082), 0);
}

Test(sendq, reads_tcp6_rows)
{
    const char *table =
        HEADER "   0: 00000000000000000000000001000000:1F90 "
               "00000000000000000000000001000000:D2F0 01 00000040:00000000 "
               "00:00000000 00000000     0        0 5 1 0 20 4 30 10 -1\n";
    cr_assert_eq(bgs_sendq_parse(table, 8080), 0x40);
}

Test(sendq, junk_and_empty_tables_count_nothing)
{
    cr_assert_eq(bgs_sendq_parse("", 8080), 0);
    cr_assert_eq(bgs_sendq_parse(HEADER, 8080), 0);
    cr_assert_eq(bgs_sendq_parse("not a table\n\n1: x:y\n", 8080), 0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A listening socket on 127.0.0.1, any port; sets *port. */
static int listener(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 4), 0);
    socklen_t len = sizeof a;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static int client_of(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Writes to a non-blocking socket until the kernel takes no more; returns
 * the bytes written. */
static size_t fill(int fd)
{
    static char buf[65536];
    size_t total = 0;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    for (;;) {
        ssize_t n = send(fd, buf, sizeof buf, MSG_NOSIGNAL);
        if (n < 0) {
            cr_assert(errno == EAGAIN || errno == EWOULDBLOCK);
            return total;
        }
        total += (size_t)n;
    }
}

Test(sendq, sees_the_bytes_a_client_has_not_read_until_it_reads_them)
{
    unsigned port;
    int lfd = listener(&port);
    int cfd = client_of(port);
    int sfd = accept(lfd, NULL, NULL);
    cr_assert_geq(sfd, 0);
    size_t written = fill(sfd);
    cr_assert_gt(written, 0);
    unsigned long long queued = bgs_sendq_unsent(port);
    cr_assert_gt(queued, 0, "nothing queued after %zu bytes written", written);
    cr_assert_leq(queued, written);

    /* Closed by the server, the socket still holds them (an orphan). */
    close(sfd);
    cr_assert_gt(bgs_sendq_unsent(port), 0);

    size_t got = 0;
    char buf[65536];
    double deadline = now_s() + 10.0;
    while (bgs_sendq_unsent(port) > 0 && now_s() < deadline) {
        struct pollfd p = {.fd = cfd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n;
        while ((n = recv(cfd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
            got += (size_t)n;
    }
    cr_assert_eq(bgs_sendq_unsent(port), 0, "still queued after reading %zu",
                 got);
    cr_assert_leq(got, written);
    close(cfd);
    close(lfd);
}
