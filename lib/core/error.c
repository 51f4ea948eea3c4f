/* The message and name tables generated from CP_ERRNO_MAP. */
#include "core/error.h"

const char *cp_strerror(int err) {
  switch (err) {
  case CP_OK:
    return "success";
#define CP__XX(code, msg)                                                                          \
  case CP_E##code:                                                                                 \
    return msg;
    CP_ERRNO_MAP(CP__XX)
#undef CP__XX
  default:
    return "unknown error";
  }
}

const char *cp_errname(int err) {
  switch (err) {
  case CP_OK:
    return "CP_OK";
#define CP__XX(code, msg)                                                                          \
  case CP_E##code:                                                                                 \
    return "CP_E" #code;
    CP_ERRNO_MAP(CP__XX)
#undef CP__XX
  default:
    return "CP_EUNKNOWN";
  }
}
