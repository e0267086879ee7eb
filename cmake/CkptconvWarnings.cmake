# Warnings for project code only (third-party headers come in as SYSTEM).
function(ckptconv_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wnon-virtual-dtor
    $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local>)
  if(CKPTCONV_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
