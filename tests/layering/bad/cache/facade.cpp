// A fixture for check-layers.sh: the cache facade including the daemon.
#include "daemon/proxy/worker.h"
