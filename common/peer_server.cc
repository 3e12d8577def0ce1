#include "common/peer_server.h"
