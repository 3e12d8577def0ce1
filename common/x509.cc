#include "common/x509.h"
