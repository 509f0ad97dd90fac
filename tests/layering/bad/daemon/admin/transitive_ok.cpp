// A fixture for check-layers.sh: fine, pc_admin -> pc_cli -> pc_http -> pc_base.
#include "daemon/base/result.h"
#include "daemon/cli/http_client.h"
#include "daemon/http/host_port.h"
#include "portcullis_version.h"
