#include "common/keys.h"
