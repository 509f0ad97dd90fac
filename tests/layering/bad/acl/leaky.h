// A fixture for check-layers.sh: a pure module reaching into libevent and the proxy.
#pragma once
#include <event2/event.h>

#include "daemon/proxy/server.h"
