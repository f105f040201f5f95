// The C side of HRRecord: SQLite's C API plus the few wrappers Swift needs.
// Each wrapper exists because Swift cannot import a macro that expands to a cast.
#ifndef HRHUB_CSQLITE_SHIM_H
#define HRHUB_CSQLITE_SHIM_H

#include <sqlite3.h>

/// SQLITE_TRANSIENT is `((sqlite3_destructor_type)-1)`, a cast Swift cannot import: SQLite copies the bound text
/// or blob before the bind call returns, so Swift's buffer may be released right after.
static inline sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }

#endif
