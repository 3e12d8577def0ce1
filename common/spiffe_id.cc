#include "common/spiffe_id.h"
