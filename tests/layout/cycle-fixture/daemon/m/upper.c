#include "upper.h"
#include "lower.h"
