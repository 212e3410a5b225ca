# Warnings apply to mq's own targets only (never to users who link mq::mq).
function(mq_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wnon-virtual-dtor)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wshadow=local)  # clang (the fuzz preset) has no =local
  endif()
  if(MQ_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
