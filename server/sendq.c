/* sendq.c - bytes the kernel still holds for this server's clients, from
 * /proc/self/net/tcp{,6} (see sendq.h for why the drain needs them). */
#include "server/sendq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TCP_LISTEN 0x0A

/* One row: "sl: local_addr:port rem_addr:port st tx_queue:rx_queue ...",
 * addresses and numbers in hex. Returns the row's tx_queue if its local
 * port is PORT and it is not listening, else 0. */
static unsigned long long row_unsent(const char *row, unsigned port)
{
    unsigned lport, state;
    unsigned long long tx, rx;
    if (sscanf(row, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %llx:%llx",
               &lport, &state, &tx, &rx) != 4)
        return 0;
    if (lport != port || state == TCP_LISTEN)
        return 0;
    return tx;
}

unsigned long long bgs_sendq_parse(const char *table, unsigned port)
{
    unsigned long long sum = 0;
    const char *row = table;
    while (row && *row) {
        sum += row_unsent(row, port);
        row = strchr(row, '\n');
        if (row)
            row++;
    }
    return sum;
}

static unsigned long long file_unsent(const char *path, unsigned port)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long long sum = 0;
    char row[512];
    while (fgets(row, sizeof row, f))
        sum += row_unsent(row, port);
    fclose(f);
    return sum;
}

unsigned long long bgs_sendq_unsent(unsigned port)
{
    return file_unsent("/proc/self/net/tcp", port) +
           file_unsent("/proc/self/net/tcp6", port);
}
