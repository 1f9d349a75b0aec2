#include "lower.h"
#include "upper.h"
