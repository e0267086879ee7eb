# Warnings for project code only (third-party headers come in as SYSTEM).
function(ckptconv_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor)
  if(CKPTCONV_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
