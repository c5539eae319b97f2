/* sendq.h - bytes the kernel still holds for this server's clients.
 *
 * A draining server has answered its last request when MHD has written the
 * last byte into a socket, not when the client has it: a slow client may
 * still be megabytes behind, in the socket's send queue. On a host the
 * kernel keeps sending after the process exits; in a container it cannot,
 * since the network namespace goes with the last process, and the client
 * gets a cut response. So the drain also waits, within --drain-s, until no
 * TCP socket on the server's port has unacknowledged bytes (README,
 * Operations, "Running in containers"). Linux lists every TCP socket of the
 * process's network namespace, closed ones still sending included, in
 * /proc/self/net/tcp and tcp6 with its send queue (tx_queue). */
#ifndef BGS_SENDQ_H
#define BGS_SENDQ_H

#include <stddef.h>

/* The sum of tx_queue over the non-listening sockets of a /proc/net/tcp or
 * tcp6 table whose local port is PORT. Unparsable lines count as nothing. */
unsigned long long bgs_sendq_parse(const char *table, unsigned port);

/* Bytes queued to clients of PORT in this network namespace, from
 * /proc/self/net/tcp and tcp6; 0 if neither can be read. */
unsigned long long bgs_sendq_unsent(unsigned port);

#endif
