# Warnings apply to mq's own targets only (never to users who link mq::mq).
function(mq_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local
                                           -Wnon-virtual-dtor)
  if(MQ_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
