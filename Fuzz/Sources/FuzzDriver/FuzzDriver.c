// Declarations only (include/FuzzDriver.h); SwiftPM needs a source file for a C target.
#include "FuzzDriver.h"
