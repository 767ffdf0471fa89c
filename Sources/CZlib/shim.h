#include <zlib.h>
// inflateInit2 is a macro (it passes the library version and stream size): wrap it.
static inline int nntop_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
