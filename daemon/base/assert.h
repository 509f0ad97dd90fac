#pragma once
// Invariants of our own code (never of bytes from a client, an origin or the
// disk: those are errors as values). PC_DEBUG_ASSERT aborts with the
// condition and place in debug builds (the ASan+UBSan suite runs them) and
// costs nothing in release builds.

#include <cstdio>
#include <cstdlib>

#ifdef NDEBUG
#define PC_DEBUG_ASSERT(cond, what) ((void)0)
#else
#define PC_DEBUG_ASSERT(cond, what)                                                         \
  ((cond) ? (void)0                                                                         \
          : (std::fprintf(stderr, "%s:%d: invariant broken: %s (%s)\n", __FILE__, __LINE__, \
                          (what), #cond),                                                   \
             std::abort()))
#endif
