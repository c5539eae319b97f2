/* main.c - the beamgrid executable: settings in, exit status out.
 *
 * Everything else lives in libbgserver (the other server files), so tests can
 * link the same code. Exit status: 0 after a clean stop (or --help/--version),
 * 1 if the server could not start, 2 for invalid settings. */
#include <stdio.h>

#include "server/config.h"
#include "server/server.h"

int main(int argc, char **argv)
{
    bgs_config cfg;
    switch (bgs_config_load(&cfg, argc, argv, stdout, stderr)) {
    case BGS_CONFIG_EXIT:
        return 0;
    case BGS_CONFIG_ERROR:
        return 2;
    case BGS_CONFIG_RUN:
        break;
    }
    return bgs_server_run(&cfg);
}
