// The C side of HRCluster: libnats (the NATS C client, Debian's libnats-dev 3.4, pkg-config `libnats`).
// Swift imports everything HRCluster uses from nats.h as it is (functions, enums, callback typedefs), so there
// are no wrappers yet. A `static inline cnats_…` wrapper goes here only for a macro Swift cannot import.
#ifndef HRHUB_CNATS_SHIM_H
#define HRHUB_CNATS_SHIM_H

#include <nats/nats.h>

#endif
