#include "common/bundle.h"
