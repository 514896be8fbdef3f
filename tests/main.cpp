// The doctest runner. doctest's main returns non-zero when any check fails, so `make test`
// and .ci/run fail through the exit code.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
