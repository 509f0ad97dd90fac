// A fixture for check-layers.sh: pc_audit's DEPS do not name pc_admin.
#include "daemon/audit/probe.h"
#include "daemon/admin/stats.h"
