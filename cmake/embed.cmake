# Embeds a file into a C translation unit, at build time:
#   cmake -DIN=<file> -DOUT=<file.c> -DNAME=<symbol> -P embed.cmake
# OUT defines `const char NAME[]`: IN's bytes and a final NUL, written as a byte array
# (no escaping to get wrong, no trigraphs, no limit on string literal length). OUT is
# replaced only when its content changes, so a touched but unchanged input rebuilds nothing.
if(NOT DEFINED IN OR NOT DEFINED OUT OR NOT DEFINED NAME)
  message(FATAL_ERROR "embed.cmake: -DIN=... -DOUT=... -DNAME=... are required")
endif()
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
get_filename_component(from "${IN}" NAME)
file(WRITE "${OUT}.tmp"
  "/* ${from}, embedded at build time by cmake/embed.cmake: edit ${from}, not this. */\n"
  "const char ${NAME}[] = {\n${bytes}0x00};\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
