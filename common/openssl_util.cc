#include "common/openssl_util.h"
