#include "lower.h"
