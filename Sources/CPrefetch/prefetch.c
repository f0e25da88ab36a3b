// The module is its header (include/prefetch.h); SwiftPM wants one source file.
#include "prefetch.h"
