#include "common/jwt.h"
