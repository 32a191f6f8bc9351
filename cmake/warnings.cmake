# Warnings and sanitizers for packmail's own targets (not for dependencies).
add_library(packmail_options INTERFACE)
target_compile_options(packmail_options INTERFACE -Wall -Wextra -Werror)
if(PACKMAIL_SANITIZE)
  target_compile_options(packmail_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(packmail_options INTERFACE -fsanitize=address,undefined)
endif()
